// A bounded, seeded fuzz over real HTTP against the real server: random methods, paths, ids, query strings,
// headers and bodies on every route. Whatever the input, the answer is never 5xx, a 4xx is always the JSON error
// shape, and no answer leaks a stack trace or a server path; afterwards the server still works. A second test
// writes malformed HTTP straight to a TCP socket. Replay a run with FUZZ_SEED=<seed> (the seed is in the test
// names); every failure prints the request's index, method, path, headers and body, and FUZZ_REPORT=<file>
// appends every failing request (not only one per cause) to that file.
import assert from 'node:assert/strict';
import { appendFileSync, realpathSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from './helpers.js';

const DEFAULT_SEED = 20260611;
const SEED = /^\d+$/.test(process.env.FUZZ_SEED ?? '') ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED;
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000);
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** Bodies are read up to this many bytes; the rest is not needed to judge the answer. */
const READ_CAP_BYTES = 256 * 1024;

// --- a small seeded PRNG (mulberry32) ------------------------------------------------------------------------

interface Random {
  next(): number;
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T;
}

function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
    weighted(items) {
      let roll = next() * items.reduce((sum, [w]) => sum + w, 0);
      for (const [w, item] of items) if ((roll -= w) < 0) return item;
      return items[items.length - 1]![1];
    },
  };
}

// --- what a request is, and how it is sent ---------------------------------------------------------------------

interface FuzzRequest {
  index: number;
  /** The route family it was generated for, to group failures. */
  route: string;
  method: string;
  /** Path and query exactly as sent (latin1 characters stand for raw bytes when sent with node:http). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  via: 'fetch' | 'http';
  /** node:http only: send the body with Transfer-Encoding: chunked. */
  chunked?: boolean;
}

interface FuzzAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Set when the request got no complete answer (connection error, timeout). */
  error?: string;
}

const FETCH_REFUSED_HEADERS = new Set(['host', 'connection', 'transfer-encoding', 'expect', 'keep-alive', 'upgrade', 'content-length', 'te', 'trailer']);
const FETCH_METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD']);

function needsRawHttp(req: FuzzRequest): boolean {
  if (req.chunked) return true;
  if (req.body && FETCH_METHODS_WITHOUT_BODY.has(req.method.toUpperCase())) return true;
  if (['TRACE', 'TRACK', 'CONNECT'].includes(req.method.toUpperCase())) return true;
  if (/[^\x21-\x7e]/.test(req.path) || !req.path.startsWith('/') || /(^|\/)\.\.?(\/|$|\?)/.test(req.path)) return true;
  for (const [name, value] of Object.entries(req.headers)) {
    if (FETCH_REFUSED_HEADERS.has(name.toLowerCase())) return true;
    if (/[^\x20-\x7e]/.test(value) || value !== value.trim()) return true;
  }
  return false;
}

// One connection per request: an answer the server sends before reading the body (417, 415) must not leave that
// body on a kept-alive socket to be parsed as the next request, which would then fail for no fault of its own.
const agent = new Agent({ keepAlive: false, maxSockets: CONCURRENCY * 2 });

/** node:http refuses a path with characters outside U+0021–U+00FF; percent-encode those (as UTF-8). */
function sendablePath(path: string): string {
  return path.replace(/[^\u0021-\u00ff]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

function isEventStream(headers: Record<string, string>): boolean {
  return (headers['content-type'] ?? '').startsWith('text/event-stream');
}

async function sendWithFetch(baseUrl: string, req: FuzzRequest): Promise<FuzzAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no complete answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(baseUrl + req.path, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
      redirect: 'manual',
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[name] = value));
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(Buffer.from(value));
        size += value.byteLength;
        // An event stream of an unfinished job never ends: its first bytes are enough.
        if (isEventStream(headers) || size >= READ_CAP_BYTES) {
          controller.abort(new Error('read enough'));
          break;
        }
      }
    }
    return { status: res.status, headers, body: Buffer.concat(chunks) };
  } finally {
    clearTimeout(timer);
  }
}

function sendWithHttp(baseUrl: string, req: FuzzRequest): Promise<FuzzAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: FuzzAnswer) => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    const headers: Record<string, string> = { ...req.headers };
    // Node frames a body by itself only for some methods (GET, DELETE, OPTIONS get none): say how, always.
    if (req.body && req.chunked) headers['transfer-encoding'] = 'chunked';
    else if (req.body) headers['content-length'] = String(req.body.length);
    let outgoing;
    try {
      outgoing = httpRequest({ host: url.hostname, port: url.port, method: req.method, path: sendablePath(req.path), headers, agent });
    } catch (err) {
      finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: `the client refused the request: ${(err as Error).message}` });
      return;
    }
    outgoing.setTimeout(REQUEST_TIMEOUT_MS, () => {
      finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: `no complete answer within ${REQUEST_TIMEOUT_MS} ms` });
      outgoing.destroy();
    });
    outgoing.on('error', (err) => finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: `connection error: ${err.message}` }));
    outgoing.on('response', (res) => {
      const resHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) resHeaders[name] = Array.isArray(value) ? value.join(', ') : String(value);
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => finish({ status: res.statusCode ?? 0, headers: resHeaders, body: Buffer.concat(chunks) });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (isEventStream(resHeaders) || size >= READ_CAP_BYTES) {
          done();
          outgoing.destroy();
        }
      });
      res.on('end', done);
      res.on('error', () => done());
      res.on('aborted', () => done());
    });
    if (req.body) {
      if (req.chunked) {
        outgoing.write(req.body);
        outgoing.end();
      } else outgoing.end(req.body);
    } else outgoing.end();
  });
}

async function send(baseUrl: string, req: FuzzRequest): Promise<FuzzAnswer> {
  if (req.via === 'http' || needsRawHttp(req)) {
    req.via = 'http';
    return sendWithHttp(baseUrl, req);
  }
  try {
    return await sendWithFetch(baseUrl, req);
  } catch (err) {
    const error = err as Error & { cause?: Error };
    // fetch refuses some inputs before sending anything (a TypeError other than 'fetch failed'): send those raw.
    if (error instanceof TypeError && error.message !== 'fetch failed') {
      req.via = 'http';
      return sendWithHttp(baseUrl, req);
    }
    return { status: 0, headers: {}, body: Buffer.alloc(0), error: `fetch: ${error.message}${error.cause ? ` (${error.cause.message})` : ''}` };
  }
}

// --- judging an answer -----------------------------------------------------------------------------------------

interface Problem {
  kind: string;
  text: string;
}

/** A stack frame, raw or JSON-escaped (`\n    at f (file.js:1:2)`). */
const STACK_FRAME = /(\n|\\n)\s{2,}at \S/;

function judge(req: FuzzRequest, answer: FuzzAnswer, leaks: string[]): Problem[] {
  const problems: Problem[] = [];
  if (answer.error) return [{ kind: 'no-answer', text: answer.error }];
  const text = answer.body.toString('utf8');
  if (answer.status >= 500) problems.push({ kind: '5xx', text: `status ${answer.status}` });
  const isHead = req.method.toUpperCase() === 'HEAD';
  if (answer.status >= 400 && !isHead) {
    const type = answer.headers['content-type'];
    if (type !== 'application/json; charset=utf-8') problems.push({ kind: 'error-content-type', text: `Content-Type ${JSON.stringify(type ?? null)}` });
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      problems.push({ kind: 'error-not-json', text: `the ${answer.body.length}-byte body is not JSON` });
    }
    if (parsed !== undefined) {
      const error = parsed?.error;
      if (!error || typeof error !== 'object' || typeof error.code !== 'string' || typeof error.message !== 'string') {
        problems.push({ kind: 'error-shape', text: 'the body is not {"error":{"code": string, "message": string}}' });
      }
    }
  }
  if (STACK_FRAME.test(text)) problems.push({ kind: 'stack-trace', text: 'the body contains a stack frame' });
  // The echo fixture returns its ctx.dataDir as its result on purpose: that is the kind's own output, not a leak.
  const checked = leaks.reduce((t, leak) => t.split(`"dataDir":${JSON.stringify(leak)}`).join('"dataDir":"…"'), text);
  for (const leak of leaks) {
    const at = checked.indexOf(leak);
    if (at !== -1) problems.push({ kind: 'path-leak', text: `the body contains ${JSON.stringify(leak)}: …${JSON.stringify(checked.slice(Math.max(0, at - 150), at + leak.length + 80))}…` });
  }
  return problems;
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describeRequest(req: FuzzRequest): string {
  const body = req.body ? `${req.body.length} bytes ${JSON.stringify(clip(req.body.toString('utf8')))}` : 'none';
  return [
    `#${req.index} (seed ${SEED}) ${JSON.stringify(req.method)} ${JSON.stringify(clip(req.path, 400))} via ${req.via}${req.chunked ? ' (chunked)' : ''}`,
    `  headers: ${clip(JSON.stringify(req.headers), 600)}`,
    `  body: ${body}`,
  ].join('\n');
}

function describeAnswer(answer: FuzzAnswer): string {
  if (answer.error) return `  → ${answer.error}`;
  return `  → ${answer.status} ${answer.headers['content-type'] ?? '(no content-type)'} ${JSON.stringify(clip(answer.body.toString('utf8'), 300))}`;
}

/** Groups failures that share a cause, so one bug is listed once however many requests hit it. */
function signature(req: FuzzRequest, answer: FuzzAnswer, problems: Problem[]): string {
  let detail = '';
  try {
    detail = JSON.parse(answer.body.toString('utf8'))?.error?.code ?? '';
  } catch {
    detail = answer.error ? answer.error.replace(/\d+/g, 'N') : '';
  }
  // A method no route has, or an answer Node wrote before the app saw the request (no Content-Type, no body),
  // fails the same way on every path: one group, not one per route.
  const isNodeAnswer = answer.status >= 400 && !answer.headers['content-type'] && answer.body.length === 0;
  const isKnownMethod = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].includes(req.method);
  const where = !isKnownMethod ? 'a method no route has' : isNodeAnswer ? 'any route (answered by Node, not the app)' : `${req.method} ${req.route}`;
  return `${problems.map((p) => p.kind).join('+')} | ${answer.status || '-'} ${detail} | ${where}`;
}

// --- generating requests ---------------------------------------------------------------------------------------

interface Known {
  jobs: string[];
  failedJobs: string[];
  datasets: string[];
  exports: string[];
  etag: string;
  cursors: string[];
  columns: string[];
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const ODD_METHODS = ['TRACE', 'PROPFIND', 'LINK', 'UNLINK', 'MKCOL', 'PURGE', 'SEARCH', 'FOO', 'BREW', 'get', 'Post', 'X-CUSTOM', 'M-SEARCH', 'QUERY'];

const TRICKY_CHARS = ['é', '漢', '😀', '\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', '\n', '\t', '"', '\\', '/', '%', "'", '<', '>', '\u2028', ' '];

function randomText(r: Random, max = 20): string {
  let s = '';
  const n = r.int(0, max);
  for (let i = 0; i < n; i++) s += r.chance(0.3) ? r.pick(TRICKY_CHARS) : String.fromCharCode(r.int(0x21, 0x7e));
  return s;
}

/** Like encodeURIComponent, but a lone surrogate becomes the bytes of U+FFFD instead of a URIError. */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

function randomUuid(r: Random): string {
  const hex = () => r.int(0, 15).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join('');
  return `${part(8)}-${part(4)}-4${part(3)}-${r.pick(['8', '9', 'a', 'b'])}${part(3)}-${part(12)}`;
}

const JUNK_IDS = [
  '', 'abc', '0', '-1', '1e309', 'null', 'undefined', 'NaN', '..', '..%2f..%2fjobs.db', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2e%2e%2f%2e%2e',
  '%zz', '%', '%2', '%00', '%ff%fe', '%c3%28', '%ed%a0%80', '%F0%9F%98%80', '%252f', '%5c..%5c', '%0d%0aX-Injected:%201', '%20', '%u0041',
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{00000000-0000-4000-8000-000000000000}',
  '00000000-0000-4000-8000-00000000000', '00000000-0000-4000-8000-0000000000000', 'g0000000-0000-4000-8000-000000000000',
  '00000000000040008000000000000000', 'urn:uuid:00000000-0000-4000-8000-000000000000', ';', ',', '*', '~', '$', '!',
];

function randomId(r: Random, own: string[], known: Known): string {
  return r.weighted<() => string>([
    [40, () => (own.length ? r.pick(own) : randomUuid(r))],
    [8, () => r.pick([...known.jobs, ...known.datasets, ...known.exports])],
    [14, () => randomUuid(r)],
    [4, () => (own.length ? r.pick(own).toUpperCase() : randomUuid(r).toUpperCase())],
    [4, () => (own.length ? `${r.pick(own)}${r.pick(['x', '%00', '%20', '.json', ';a=b', '%2f..', '/', '..'])}` : randomUuid(r))],
    [22, () => r.pick(JUNK_IDS)],
    [3, () => 'a'.repeat(r.pick([200, 1000, 5000]))],
    [3, () => percentEncode(randomText(r, 30))],
    [2, () => Array.from({ length: r.int(1, 20) }, () => `%${r.int(0, 255).toString(16).padStart(2, '0')}`).join('')],
  ])();
}

const QUERY_KEYS = ['limit', 'cursor', 'status', 'kind', 'name', 'format', 'x', '__proto__', 'constructor', 'limit[]', 'a[b]', '', '%zz', 'q',
  'delimiter', 'null', 'charset', 'types', 'dataset', 'created_after', 'created_before', 'minutes'];

/** Values of POST /datasets' import options, good and bad. */
const IMPORT_OPTION_VALUES: Record<string, string[]> = {
  delimiter: [',', '%3B', '%09', '%7C', 'tab', 'semicolon', 'pipe', 'comma', ':', '%2C%2C', ''],
  null: ['NA', 'NA,NULL,%5CN', '', ',,,', 'x'.repeat(1001), 'a,'.repeat(40)],
  charset: ['utf-8', 'UTF8', 'latin1', 'iso-8859-1', 'utf-16', 'klingon', '', '%00'],
  types: ['c0:integer', 'c0:text,c1:date', 'a:json', 'c0:money', ':integer', 'c0', 'c0:integer,c0:text', 'a%3Ab:timestamp', '__proto__:integer'],
};

function randomQueryValue(r: Random, key: string, known: Known): string {
  if (IMPORT_OPTION_VALUES[key] && r.chance(0.7)) return r.pick(IMPORT_OPTION_VALUES[key]!);
  return r.weighted<() => string>([
    [6, () => (key === 'limit' ? r.pick(['1', '2', '50', '500']) : key === 'status' ? r.pick(['pending', 'running', 'succeeded', 'failed', 'cancelled']) : 'noop')],
    [6, () => r.pick(['-1', '0', '501', '1e309', 'NaN', 'Infinity', '-Infinity', '1.5', '0x10', '1e2', '%205', '+5', '', '9007199254740993', 'true', 'null'])],
    [4, () => r.pick(known.cursors.length ? known.cursors : ['MQ'])],
    [6, () => r.pick(['%zz', '%', '%ff', '%c3%28', '%ed%a0%80', '%00', '%2e%2e%2f', 'a%2Cb', '%252f', '+', '%2B', '..%2f'])],
    [4, () => percentEncode(randomText(r, 20))],
    [2, () => 'x'.repeat(r.pick([65, 300, 4000, 9000]))],
    [1, () => '%41'.repeat(3000)],
  ])();
}

function randomQuery(r: Random, known: Known, forced: Record<string, string> = {}): string {
  const parts = Object.entries(forced).map(([k, v]) => `${k}=${v}`);
  const n = r.int(0, 4);
  for (let i = 0; i < n; i++) {
    const key = r.pick(QUERY_KEYS);
    if (r.chance(0.1)) parts.push(key);
    else parts.push(`${key}=${randomQueryValue(r, key, known)}`);
  }
  if (r.chance(0.1)) parts.push(parts[0] ?? 'limit=1');
  if (!parts.length) return r.chance(0.1) ? '?' : '';
  return `?${parts.join(r.chance(0.05) ? ';' : '&')}`;
}

/** JSON text for a value, with room for literals JSON.stringify cannot write (1e309, -0 spelled out, …). */
class RawJson {
  constructor(readonly text: string) {}
}

function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  // JSON.stringify writes a lone surrogate as the escape \ud800: exactly the JSON text we want to send.
  return JSON.stringify(value) ?? 'null';
}

function nested(depth: number, leaf: unknown, asArray: boolean): RawJson {
  return new RawJson(asArray ? `${'['.repeat(depth)}${toJsonText(leaf)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}${toJsonText(leaf)}${'}'.repeat(depth)}`);
}

function randomValue(r: Random, depth = 0): unknown {
  return r.weighted<() => unknown>([
    [3, () => null],
    [3, () => r.chance(0.5)],
    [4, () => r.int(-1000, 1000)],
    [2, () => r.pick([2 ** 53, -(2 ** 53), 1.5, -0.0001, Number.MAX_VALUE, Number.MIN_VALUE])],
    [2, () => new RawJson(r.pick(['1e309', '-1e309', '-0', '1E400', '123456789012345678901234567890', '0.0000000000000000000000001']))],
    [6, () => randomText(r, 30)],
    [1, () => 'x'.repeat(r.int(1000, 20000))],
    [1, () => '\u0000'.repeat(r.int(1, 50))],
    [2, () => `${randomText(r, 5)}\ud800${randomText(r, 5)}\udc00\udc00`],
    [depth < 4 ? 3 : 0, () => Array.from({ length: r.int(0, 5) }, () => randomValue(r, depth + 1))],
    [depth < 4 ? 3 : 0, () => Object.fromEntries(Array.from({ length: r.int(0, 5) }, () => [r.chance(0.2) ? r.pick(['__proto__', 'constructor', 'prototype', '']) : randomText(r, 10), randomValue(r, depth + 1)]))],
    [1, () => nested(r.pick([10, 50, 100, 200]), randomValue(r, 4), r.chance(0.5))],
  ])();
}

const BAD_INTS = [new RawJson('1e309'), new RawJson('-1e309'), -1, 0, 1.5, '5', null, true, [], {}, 2 ** 53, -(2 ** 31), 1001, -1001, 1e15, new RawJson('-0'), new RawJson('1.0'), new RawJson('NaN')];

function maybeBadInt(r: Random, valid: () => number): unknown {
  return r.chance(0.6) ? valid() : r.pick(BAD_INTS);
}

function randomKind(r: Random): unknown {
  return r.weighted<() => unknown>([
    [30, () => r.pick(['noop', 'echo'])],
    [8, () => r.pick(['import', 'export'])],
    [6, () => r.pick(['nope', 'NOOP', 'noop ', ' noop', 'no\u0000op', 'noop\ud800', '../noop', 'constructor', '__proto__', 'toString', 'hasOwnProperty'])],
    [3, () => r.pick(['', 'x'.repeat(65), 'x'.repeat(5000)])],
    [4, () => r.pick([1, null, true, [], ['noop'], { kind: 'noop' }])],
    [3, () => randomText(r, 20)],
  ])();
}

function randomJobBody(r: Random): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (r.chance(0.95)) body.kind = randomKind(r);
  if (r.chance(0.9)) {
    body.payload = r.weighted<() => unknown>([
      [10, () => ({})],
      [10, () => Object.fromEntries(Array.from({ length: r.int(1, 4) }, () => [randomText(r, 8), randomValue(r)]))],
      // What the built-in kinds take: a client must not be able to name a server path through POST /jobs.
      [3, () => ({ source_path: r.pick(['/etc/passwd', '../../jobs.db', 'jobs.db', '/nonexistent/x.csv', 'C:\\Windows']), dataset_id: randomUuid(r), content_type: r.pick(['csv', 'ndjson']), format: 'csv' })],
      [3, () => randomValue(r)],
      [3, () => nested(r.pick([150, 200, 200, 1000, 5000, 20_000]), 1, r.chance(0.5))],
      [2, () => ({ deep: nested(r.pick([200, 3000, 10_000]), {}, r.chance(0.5)) })],
    ])();
  }
  if (r.chance(0.3)) body.priority = maybeBadInt(r, () => r.int(-1000, 1000));
  if (r.chance(0.2)) body.max_attempts = maybeBadInt(r, () => r.int(1, 5));
  if (r.chance(0.2)) body.timeout_ms = maybeBadInt(r, () => r.int(1000, 60_000));
  if (r.chance(0.05)) body.timeout_ms = r.pick([2 ** 31, 2 ** 31 - 1, 8 * 24 * 3600 * 1000, 1e12]);
  if (r.chance(0.05)) body.run_at = r.pick(['2030-01-01T00:00:00Z', 'yesterday', -1, 1e309]);
  if (r.chance(0.05)) body.delay_ms = r.pick([10, -1, 'soon', new RawJson('1e309')]);
  if (r.chance(0.05)) body[r.pick(['__proto__', 'constructor', 'extra', ''])] = randomValue(r);
  return body;
}

const FORMATS = ['csv', 'ndjson', 'json', 'xlsx', 'parquet'];

function randomExportBody(r: Random, known: Known): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (r.chance(0.95)) body.dataset_id = r.chance(0.6) && known.datasets.length ? r.pick(known.datasets) : r.chance(0.5) ? randomUuid(r) : r.pick([...JUNK_IDS, 1, null, [], {}]);
  if (r.chance(0.95)) body.format = r.chance(0.7) ? r.pick(FORMATS) : r.pick(['CSV', 'xls', 'pdf', '', 1, null, ['csv'], '../csv', 'csv\u0000']);
  if (r.chance(0.3)) {
    body.columns = r.weighted<() => unknown>([
      [4, () => known.columns.filter(() => r.chance(0.6)).concat(known.columns[0]!)],
      [2, () => [known.columns[0], known.columns[0]]],
      [2, () => [randomText(r, 10), '']],
      [1, () => []],
      [1, () => Array.from({ length: 3000 }, (_, i) => `c${i}`)],
      [1, () => r.pick(['id', 1, null, {}, [1, 2], ['x'.repeat(2000)]])],
    ])();
  }
  if (r.chance(0.3)) body.compression = r.pick(['none', 'gzip', 'GZIP', 'br', '', null, 1]);
  if (r.chance(0.15)) body.parquet_codec = r.pick(['snappy', 'zstd', 'gzip', 'none', 'lz4', 'SNAPPY', '', null, 1]);
  if (r.chance(0.2)) body.priority = maybeBadInt(r, () => r.int(-1000, 1000));
  if (r.chance(0.1)) body.max_attempts = maybeBadInt(r, () => r.int(1, 5));
  if (r.chance(0.15)) body.timeout_ms = maybeBadInt(r, () => r.int(1000, 60_000));
  if (r.chance(0.05)) body[r.pick(['extra', '__proto__', 'path', 'filename'])] = r.pick(['/etc/passwd', '../x', 1]);
  return body;
}

function mutateText(r: Random, text: string): Buffer {
  return r.weighted<() => Buffer>([
    [50, () => Buffer.from(text)],
    [6, () => Buffer.from(text.slice(0, r.int(0, Math.max(0, text.length - 1))))],
    [3, () => {
      const b = Buffer.from(text);
      if (b.length) b[r.int(0, b.length - 1)] = r.int(0, 255);
      return b;
    }],
    [2, () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])],
    [2, () => Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from([0xff, 0xc3]), Buffer.from('}')])],
    [2, () => Buffer.from(text.replace(':', ':\u0000'))],
    [2, () => Buffer.from(`${text}${r.pick(['garbage', '}', ',', '\u0000', ' {"a":1}'])}`)],
    [2, () => Buffer.from(text.replace(/"/g, "'"))],
    [2, () => Buffer.from(text.replace('{', '{"kind":"noop","kind":1,'))],
    [2, () => Buffer.from(`/* c */${text}`)],
    [5, () => Buffer.from(r.pick(['', ' ', '\n', 'null', '[]', '[{}]', '1', '"noop"', 'true', '{', '}', '{"kind":', 'NaN', '{"kind":"noop",}', '\u0000', '{"kind":"noop","payload":{}}\u0000']))],
    [1, () => Buffer.from(text, 'utf16le')],
    [1, () => Buffer.from(text, 'latin1')],
  ])();
}

function randomCsv(r: Random): string {
  const eol = r.pick(['\n', '\r\n', '\r']);
  const cols = r.int(1, 6);
  const header = Array.from({ length: cols }, (_, i) =>
    r.weighted<() => string>([
      [8, () => `c${i}`],
      [2, () => randomText(r, 12).replace(/[\n\r]/g, '')],
      [1, () => ''],
      [1, () => 'c0'],
      [1, () => `"quo""ted ${i}"`],
      [1, () => 'x'.repeat(r.pick([300, 5000]))],
      [1, () => r.pick(['"; DROP TABLE jobs; --', '../../etc', 'rowid', '__proto__', 'constructor'])],
    ])(),
  );
  const rows = Array.from({ length: r.int(0, r.pick([5, 50, 500])) }, () =>
    Array.from({ length: r.chance(0.1) ? r.int(0, cols + 2) : cols }, () =>
      r.pick([String(r.int(-1e6, 1e6)), String(r.next()), 'true', 'false', '', 'null', '"a,b"', '"unterminated', randomText(r, 8).replace(/[\n\r,"]/g, ''), '1e309', '9007199254740993']),
    ).join(','),
  );
  return [header.join(','), ...rows].join(eol) + (r.chance(0.5) ? eol : '');
}

function randomNdjson(r: Random): string {
  const lines = Array.from({ length: r.int(0, r.pick([5, 50, 300])) }, () =>
    r.weighted<() => string>([
      [10, () => toJsonText({ a: r.int(0, 100), b: randomText(r, 8), c: r.chance(0.5), d: r.chance(0.2) ? null : r.next() })],
      [2, () => toJsonText(Object.fromEntries(Array.from({ length: r.int(0, 4) }, () => [randomText(r, 6), randomValue(r, 3)])))],
      [1, () => r.pick(['', '[1,2]', '"str"', '1', 'null', '{', '{"a":1', 'not json', '{"a":1}{"a":2}', '{"__proto__":{"x":1}}'])],
      [1, () => toJsonText({ deep: nested(200, 1, false) })],
      [1, () => toJsonText({ s: '\ud800', n: new RawJson('1e309') })],
    ])(),
  );
  return lines.join(r.pick(['\n', '\r\n'])) + (r.chance(0.5) ? '\n' : '');
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
  'application/json; charset=UTF-16LE', 'application/json; charset=klingon', 'application/json;charset="', 'APPLICATION/JSON',
  'application/vnd.api+json', 'application/merge-patch+json', 'text/json', 'text/plain', 'text/csv', 'text/csv; charset=latin1',
  'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'multipart/form-data', 'application/octet-stream', '*/*', 'application/*', 'junk', ';;;', '', 'application/json, text/csv', 'text/html',
];
const CONTENT_ENCODINGS = ['gzip', 'br', 'deflate', 'identity', 'x-junk', 'gzip, gzip', 'GZIP', 'compress', 'zstd', ''];
const ACCEPTS = ['*/*', 'application/json', 'text/html', 'application/xml', 'text/event-stream', 'image/png', 'junk', ';q=0', 'application/json;q=0'];
const RANGES = ['bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-5', 'bytes=0-0,2-3', 'bytes=999999999-', 'bytes=abc', 'items=0-1', 'bytes=-0', 'bytes=0-99999999999999999999', 'bytes=', 'bytes=-', ' bytes=1-2', 'bytes=1e3-', 'bytes=-99999999999999999999999', 'bytes=0-1,,'];
const IF_VALUES = ['"abc"', '*', 'W/"x"', 'junk', 'Wed, 21 Oct 2015 07:28:00 GMT', '""', '"'];

function randomHeaders(r: Random, known: Known, hasBody: boolean, route: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (hasBody ? r.chance(0.85) : r.chance(0.1)) h['content-type'] = r.chance(0.5) && route !== 'POST /datasets' ? 'application/json' : r.pick(CONTENT_TYPES);
  if (r.chance(0.08)) h['content-encoding'] = r.pick(CONTENT_ENCODINGS);
  if (r.chance(0.15)) h.accept = r.pick(ACCEPTS);
  if (r.chance(0.1)) h['idempotency-key'] = r.pick(['k1', 'same-key', 'x'.repeat(300), 'x'.repeat(200), 'has space', 'tab\there', 'é-latin1', '', '"quoted"', randomUuid(r)]);
  if (r.chance(0.08)) h['x-request-id'] = r.pick(['abc', 'x'.repeat(5000), '"; DROP', 'é', '\u00ff\u00fe', randomUuid(r)]);
  if (route.includes('download') ? r.chance(0.5) : r.chance(0.03)) h.range = r.pick(RANGES);
  if (route.includes('download') ? r.chance(0.3) : r.chance(0.02)) h['if-range'] = r.chance(0.4) ? known.etag : r.pick(IF_VALUES);
  if (route.includes('download') ? r.chance(0.3) : r.chance(0.02)) h['if-none-match'] = r.chance(0.4) ? known.etag : r.pick(IF_VALUES);
  if (r.chance(0.03)) h.authorization = r.pick(['Bearer x', 'Basic', 'Bearer ' + 'y'.repeat(3000), 'junk']);
  if (r.chance(0.03)) h.cookie = 'a=b; c';
  if (r.chance(0.03)) h['x-forwarded-for'] = r.pick(['1.2.3.4', 'junk', '::1, 10.0.0.1']);
  if (r.chance(0.02)) h.origin = r.pick(['http://evil.example', 'null']);
  // Only node:http sends these (fetch refuses them).
  if (r.chance(0.02)) h.host = r.pick(['evil.example', 'localhost', '127.0.0.1:1', '[::1]', '127.0.0.1.nip.io', '']);
  if (r.chance(0.02)) h.expect = r.pick(['100-continue', 'junk']);
  if (r.chance(0.01)) h['x-latin1'] = '\u00e9\u00ff';
  if (r.chance(0.01)) h[`x-${'h'.repeat(20)}`] = 'v'.repeat(r.pick([100, 8000]));
  return h;
}

function generateRequest(r: Random, index: number, known: Known): FuzzRequest {
  const id = (own: string[]) => randomId(r, own, known);
  type Draft = { route: string; method: string; path: string; body?: Buffer };
  const pickMethod = (natural: string) => (r.chance(0.65) ? natural : r.chance(0.75) ? r.pick(HTTP_METHODS) : r.pick(ODD_METHODS));
  const jsonBody = (value: unknown) => mutateText(r, toJsonText(value));
  const draft = r.weighted<() => Draft>([
    [14, () => ({ route: 'POST /jobs', method: pickMethod('POST'), path: `/jobs${r.chance(0.1) ? randomQuery(r, known) : ''}`, body: r.chance(0.97) ? jsonBody(randomJobBody(r)) : undefined })],
    [6, () => ({ route: 'GET /jobs', method: pickMethod('GET'), path: `/jobs${randomQuery(r, known)}` })],
    [8, () => ({ route: '/jobs/{id}', method: pickMethod(r.pick(['GET', 'GET', 'DELETE'])), path: `/jobs/${id(known.jobs)}${r.chance(0.1) ? randomQuery(r, known) : ''}` })],
    [4, () => ({ route: '/jobs/{id}/events', method: pickMethod('GET'), path: `/jobs/${id(known.jobs)}/events${r.chance(0.1) ? randomQuery(r, known) : ''}` })],
    [4, () => ({ route: '/jobs/{id}/retry', method: pickMethod('POST'), path: `/jobs/${id(r.chance(0.5) ? known.failedJobs : known.jobs)}/retry`, body: r.chance(0.3) ? jsonBody(r.chance(0.5) ? {} : randomValue(r)) : undefined })],
    [3, () => ({ route: 'GET /events', method: pickMethod('GET'), path: `/events${randomQuery(r, known)}`})],
    [3, () => ({ route: 'POST /jobs/bulk-*', method: pickMethod('POST'), path: `/jobs/bulk-${r.pick(['cancel', 'retry'])}`, body: r.chance(0.9) ? jsonBody(r.chance(0.7) ? { kind: r.pick(['hang', 'none', 'noop']), status: r.pick(['failed', 'pending', 'x']), limit: r.pick([1, 0, 5000]) } : randomValue(r)) : undefined })],
    [10, () => ({ route: 'POST /exports', method: pickMethod('POST'), path: `/exports${r.chance(0.1) ? randomQuery(r, known) : ''}`, body: r.chance(0.97) ? jsonBody(randomExportBody(r, known)) : undefined })],
    [4, () => ({ route: 'GET /exports', method: pickMethod('GET'), path: `/exports${randomQuery(r, known)}` })],
    [6, () => ({ route: '/exports/{id}', method: pickMethod(r.chance(0.8) ? 'GET' : 'DELETE'), path: `/exports/${id(known.exports)}` })],
    [8, () => ({ route: '/exports/{id}/download', method: pickMethod(r.chance(0.85) ? 'GET' : 'HEAD'), path: `/exports/${id(known.exports)}/download${r.chance(0.1) ? randomQuery(r, known) : ''}` })],
    [3, () => ({ route: '/exports/{id}/events', method: pickMethod('GET'), path: `/exports/${id(known.exports)}/events` })],
    [8, () => {
      const name = r.weighted<() => string | undefined>([
        [6, () => `fuzz-${r.int(0, 999)}`],
        [2, () => percentEncode(randomText(r, 30))],
        [2, () => r.pick(['', '%20%20', '..%2F..%2Fjobs.db', '%zz', '%00', 'x'.repeat(201), 'x'.repeat(5000), '%ed%a0%80', 'a&name=b', '%2Fabs%2Fpath'])],
        [1, () => undefined],
      ])();
      const query = randomQuery(r, known, name === undefined ? {} : { name });
      const csv = r.chance(0.55);
      let text = csv ? randomCsv(r) : randomNdjson(r);
      if (r.chance(0.03)) text = text.repeat(Math.max(1, Math.floor(150_000 / Math.max(1, text.length))));
      let body = Buffer.from(text);
      if (r.chance(0.05)) body = Buffer.concat([body, Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
      if (r.chance(0.03)) body = gzipSync(body);
      if (r.chance(0.03)) body = Buffer.alloc(0);
      if (body.length > 190_000) body = body.subarray(0, 190_000);
      return { route: 'POST /datasets', method: pickMethod('POST'), path: `/datasets${query}`, body: r.chance(0.97) ? body : undefined };
    }],
    [3, () => ({ route: 'GET /datasets', method: pickMethod('GET'), path: `/datasets${randomQuery(r, known)}` })],
    [3, () => ({ route: '/datasets/{id}/preview', method: pickMethod('GET'), path: `/datasets/${id(known.datasets)}/preview${r.chance(0.5) ? randomQuery(r, known) : ''}` })],
    [6, () => ({ route: '/datasets/{id}', method: pickMethod(r.chance(0.85) ? 'GET' : 'DELETE'), path: `/datasets/${id(known.datasets)}` })],
    [6, () => ({ route: 'operations', method: pickMethod('GET'), path: `${r.pick(['/healthz', '/readyz', '/metrics', '/openapi.json', '/', '/stats', '/favicon.ico', '/favicon.svg'])}${r.chance(0.2) ? randomQuery(r, known) : ''}` })],
    [6, () => ({
      route: 'unknown path',
      method: pickMethod('GET'),
      path: r.weighted<() => string>([
        [6, () => r.pick(['/jobs/', '//jobs', '/JOBS', '/Jobs/x', '/jobs/a/b/c', '/api', '/favicon.ico', '/%2e%2e/', '/openapi.json/', '/metrics.txt', '/index.html', '/dashboard', '/datasets/', '/exports//download', '/jobs;x', '/jobs%2F', '/%00', '/%zz', '/jobs/%', '/.env', '/..%2f..%2fetc%2fpasswd'])],
        [2, () => `/${percentEncode(randomText(r, 20))}`],
        [1, () => `/${'a'.repeat(r.pick([3000, 12_000]))}`],
        [1, () => `/${Array.from({ length: r.int(2, 50) }, () => 'x').join('/')}`],
        [1, () => r.pick(['/../../etc/passwd', '/jobs/../healthz', '/./healthz', '*', '/jobs/\u00e9', '/jobs/\u00c3\u00a9', '/\u00ff'])],
      ])(),
    })],
  ])();
  const headers = randomHeaders(r, known, draft.body !== undefined, draft.route);
  if (draft.body && r.chance(0.05)) delete headers['content-type'];
  const via = r.chance(0.2) ? 'http' : 'fetch';
  const chunked = Boolean(draft.body) && via === 'http' && r.chance(0.3);
  return { index, ...draft, headers, via, chunked };
}

// --- the tests -------------------------------------------------------------------------------------------------

let server: TestServer;
const known: Known = { jobs: [], failedJobs: [], datasets: [], exports: [], etag: '"none"', cursors: [], columns: ['id', 'name', 'score', 'ok'] };
let leaks: string[] = [];

async function uploadDataset(name: string, csv: string): Promise<string> {
  const res = await server.request('POST', `/datasets?name=${name}`, { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  assert.equal(res.status, 202, res.text);
  await server.waitForJob(res.body.job_id, (job) => job.status === 'succeeded');
  return res.body.id;
}

async function startExport(body: object): Promise<string> {
  const res = await server.request('POST', '/exports', { body });
  assert.equal(res.status, 202, res.text);
  await server.waitForJob(res.body.job_id, (job) => job.status === 'succeeded');
  return res.body.job_id;
}

before(async () => {
  server = await startTestServer();
  leaks = [...new Set([server.dataDir, realpathSync(server.dataDir), '/work/'])];
  const rows = Array.from({ length: 40 }, (_, i) => `${i},name ${i},${i * 1.5},${i % 2 === 0}`).join('\n');
  const header = known.columns.join(',');
  known.datasets.push(await uploadDataset('fuzz-base', `${header}\n${rows}\n`), await uploadDataset('fuzz-second', `${header}\n${rows}\n`));
  known.exports.push(
    await startExport({ dataset_id: known.datasets[0], format: 'csv' }),
    await startExport({ dataset_id: known.datasets[0], format: 'ndjson', compression: 'gzip' }),
    await startExport({ dataset_id: known.datasets[1], format: 'json' }),
  );
  const exportDoc = await server.request('GET', `/exports/${known.exports[0]}`);
  known.etag = `"${exportDoc.body.result.sha256}"`;

  const noop = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
  const failed = await server.request('POST', '/jobs', { body: { kind: 'throws', payload: {}, max_attempts: 1 } });
  const running = await server.request('POST', '/jobs', { body: { kind: 'slow-progress', payload: { steps: 100, stepMs: 100 } } });
  // A job that stays pending for the whole run: its event stream stays open, DELETE cancels it.
  const { job: pending } = await server.engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 3600_000 });
  await server.waitForJob(noop.body.job_id);
  await server.waitForJob(failed.body.job_id);
  known.jobs.push(noop.body.job_id, failed.body.job_id, running.body.job_id, pending.id, ...known.exports);
  known.failedJobs.push(failed.body.job_id);
  for (const list of ['/jobs?limit=1', '/exports?limit=1', '/datasets?limit=1']) {
    const cursor = (await server.request('GET', list)).body.next_cursor;
    if (cursor) known.cursors.push(cursor);
  }
});

after(() => agent.destroy());

describe(`fuzz over HTTP (seed ${SEED}; FUZZ_SEED to replay)`, () => {
  test(`${REQUESTS} seeded requests on every route (seed ${SEED}): never 5xx, every 4xx the JSON error shape, no stack or path in any answer`, async () => {
    const r = createRandom(SEED);
    const requests = Array.from({ length: REQUESTS }, (_, i) => generateRequest(r, i, known));
    const groups = new Map<string, { count: number; example: string }>();
    let failures = 0;
    let next = 0;
    const statuses = new Map<number, number>();
    let streams = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const req = requests[next++]!;
          const answer = await send(server.url, req);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (isEventStream(answer.headers)) streams++;
          const problems = judge(req, answer, leaks);
          if (!problems.length) continue;
          failures++;
          const key = signature(req, answer, problems);
          if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `[${key}] ${problems.map((p) => p.text).join('; ')}\n${describeRequest(req)}\n${describeAnswer(answer)}\n\n`);
          const group = groups.get(key);
          if (group) group.count++;
          else groups.set(key, { count: 1, example: `${problems.map((p) => p.text).join('; ')}\n${describeRequest(req)}\n${describeAnswer(answer)}` });
        }
      }),
    );
    const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s || 'none'}×${n}`).join(' ');
    if (process.env.FUZZ_VERBOSE) console.log(`statuses: ${summary}; event streams opened: ${streams}`);
    const report = [...groups]
      .sort(([, a], [, b]) => b.count - a.count)
      .slice(0, 60)
      .map(([key, { count, example }]) => `[${count}×] ${key}\n${example}`)
      .join('\n\n');
    assert.equal(failures, 0, `${failures} of ${REQUESTS} requests failed, ${groups.size} distinct causes (statuses: ${summary}):\n\n${report}`);
  });

  test('afterwards the server is healthy: /healthz and /readyz answer 200, and a noop job runs to success', async () => {
    assert.equal((await server.request('GET', '/healthz')).status, 200);
    const ready = await server.request('GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
    const created = await server.request('POST', '/jobs', { body: { kind: 'noop', payload: {} } });
    assert.equal(created.status, 202, created.text);
    const job = await server.waitForJob(created.body.job_id, undefined, 30_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
  });

  test('malformed HTTP over raw TCP: any answer is a 400/414/431/505 status line with the JSON error body; the server stays up', async () => {
    const { hostname, port } = new URL(server.url);
    const host = `Host: ${hostname}:${port}\r\n`;
    // Malformed requests Node's parser refuses: any answer must be our JSON error.
    const cases: Array<[string, Buffer]> = [
      ['a header line without a colon', Buffer.from(`GET /healthz HTTP/1.1\r\n${host}Foo bar\r\nConnection: close\r\n\r\n`)],
      ['a header name with a space', Buffer.from(`GET /healthz HTTP/1.1\r\n${host}Bad Header: x\r\nConnection: close\r\n\r\n`)],
      ['raw UTF-8 bytes in the request target', Buffer.concat([Buffer.from('GET /jobs/'), Buffer.from('é漢😀', 'utf8'), Buffer.from(` HTTP/1.1\r\n${host}Connection: close\r\n\r\n`)])],
      ['a header block over 16 KB', Buffer.from(`GET /healthz HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`)],
      ['a request target over 16 KB', Buffer.from(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${host}Connection: close\r\n\r\n`)],
      ['bare \\n line endings', Buffer.from(`GET /healthz HTTP/1.1\n${host.replace('\r\n', '\n')}Connection: close\n\n`)],
      ['an unknown HTTP version', Buffer.from(`GET /healthz HTTP/3.7\r\n${host}Connection: close\r\n\r\n`)],
      ['a junk protocol name', Buffer.from(`GET /healthz FTP/1.1\r\n${host}Connection: close\r\n\r\n`)],
      ['an unknown method', Buffer.from(`FROBNICATE /healthz HTTP/1.1\r\n${host}Connection: close\r\n\r\n`)],
      ['Content-Length that is not a number', Buffer.from(`POST /jobs HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n{}`)],
      ['two different Content-Lengths', Buffer.from(`POST /jobs HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{}`)],
      ['Content-Length and Transfer-Encoding together', Buffer.from(`POST /jobs HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`)],
      ['an invalid chunk size', Buffer.from(`POST /jobs HTTP/1.1\r\n${host}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`)],
      ['an obsolete folded header line', Buffer.from(`GET /healthz HTTP/1.1\r\n${host}X-A: a\r\n  folded\r\nConnection: close\r\n\r\n`)],
      ['a NUL byte in a header value', Buffer.from(`GET /healthz HTTP/1.1\r\n${host}X-A: a\u0000b\r\nConnection: close\r\n\r\n`)],
      ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a])],
    ];
    // Requests Node may take as valid (HTTP/0.9 has no version): a normal answer is fine, an error must be ours.
    const lenient = new Set(['a request line without a version']);
    cases.push(['a request line without a version', Buffer.from('GET /healthz\r\n\r\n')]);
    const problems: string[] = [];
    for (const [name, bytes] of cases) {
      const raw = await exchangeRaw(hostname, Number(port), bytes);
      const problem = judgeRaw(raw, lenient.has(name));
      if (problem) problems.push(`${name}: ${problem}\n  sent ${JSON.stringify(clip(bytes.toString('latin1'), 200))}\n  got ${JSON.stringify(clip(raw.toString('latin1'), 400))}`);
    }
    const health = await server.request('GET', '/healthz');
    assert.equal(health.status, 200, 'the server still answers /healthz');
    assert.equal(problems.length, 0, `${problems.length} of ${cases.length} malformed requests got a bad answer:\n${problems.join('\n')}`);
  });
});

/** Writes the bytes, and collects what comes back until the server closes the connection or goes quiet. */
function exchangeRaw(host: string, port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    let timer = setTimeout(() => socket.destroy(), 3000);
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), 500);
    });
    socket.on('error', () => {});
    socket.on('close', done);
  });
}

function judgeRaw(raw: Buffer, mayBeValid: boolean): string | undefined {
  if (raw.length === 0) return undefined;
  const text = raw.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd === -1 ? text : text.slice(0, headEnd);
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!statusLine) return 'the answer does not start with an HTTP/1.x status line';
  const status = Number(statusLine[1]);
  if (mayBeValid && status < 400) return undefined;
  if (![400, 414, 431, 505].includes(status)) return `status ${status}, expected 400, 414, 431 or 505`;
  // Sizes count bytes: work on the latin1 text (one character a byte), then read the body as UTF-8.
  let bytes = headEnd === -1 ? '' : text.slice(headEnd + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) bytes = decodeChunked(bytes);
  const length = /^content-length:\s*(\d+)/im.exec(head);
  if (length) bytes = bytes.slice(0, Number(length[1]));
  const body = Buffer.from(bytes, 'latin1').toString('utf8');
  if (!/^content-type:\s*application\/json/im.test(head)) return `status ${status} without a JSON Content-Type`;
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error?.code !== 'string' || typeof parsed?.error?.message !== 'string') return `status ${status}: the body is not the JSON error shape`;
  } catch {
    return `status ${status}: the body ${JSON.stringify(clip(body, 100))} is not JSON`;
  }
  if (STACK_FRAME.test(body) || leaks.some((leak) => body.includes(leak))) return 'the body leaks a stack trace or a server path';
  return undefined;
}

function decodeChunked(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
