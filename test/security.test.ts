// Bearer-token auth over real HTTP, and the refusal to bind a non-loopback address without a token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { MAIN_JS, makeTempDir, request, spawnServer, startTestServer, type TestResponse, type TestServer } from './helpers.js';

const TOKEN = 'tok-3f9a1c07d2b64e58';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

let server: TestServer;

before(async () => {
  server = await startTestServer({ args: ['--token', TOKEN] });
});
after(() => server.close());

function assertUnauthorized(res: TestResponse, what: string) {
  assert.equal(res.status, 401, `${what}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/, what);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer', what);
  assert.equal(res.body.error.code, 'unauthorized', what);
  assert.match(res.body.error.message, /Authorization: Bearer/, what);
  assert.ok(!res.text.includes(TOKEN), 'the answer never contains the token');
}

describe('--token', () => {
  const protectedRoutes = ['/jobs', '/readyz', '/metrics', '/openapi.json', '/jobs/00000000-0000-4000-8000-000000000000', '/no-such-route'];

  test('no token, a wrong token, or a malformed header → 401 with the JSON error and WWW-Authenticate', async () => {
    const badHeaders: Array<[string, Record<string, string>]> = [
      ['no Authorization header', {}],
      ['a wrong token', auth('tok-wrong')],
      ['the token with one character more', auth(`${TOKEN}x`)],
      ['a prefix of the token', auth(TOKEN.slice(0, -1))],
      ['an empty bearer token', { authorization: 'Bearer ' }],
      ['another scheme', { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` }],
      ['the token without a scheme', { authorization: TOKEN }],
    ];
    for (const path of protectedRoutes) {
      for (const [name, headers] of badHeaders) assertUnauthorized(await server.request('GET', path, { headers }), `GET ${path} with ${name}`);
    }
  });

  test('the right token → the route answers', async () => {
    for (const path of ['/jobs', '/readyz', '/metrics', '/openapi.json']) {
      const res = await server.request('GET', path, { headers: auth(TOKEN) });
      assert.equal(res.status, 200, `GET ${path}`);
    }
    assert.equal((await server.request('GET', '/no-such-route', { headers: auth(TOKEN) })).status, 404);
    const created = await server.request('POST', '/jobs', { headers: auth(TOKEN), body: { kind: 'echo', payload: {} } });
    assert.equal(created.status, 202);
    const done = await request(server.url, 'GET', `/jobs/${created.body.job_id}`, { headers: auth(TOKEN) });
    assert.equal(done.status, 200);
  });

  test('/healthz is open, with or without a token', async () => {
    assert.deepEqual((await server.request('GET', '/healthz')).body, { status: 'ok' });
    assert.equal((await server.request('GET', '/healthz', { headers: auth('tok-wrong') })).status, 200);
  });

  test('an unauthenticated request is refused before its body is read or a job is created', async () => {
    const before = (await server.engine.list({ limit: 500 })).jobs.length;
    const big = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { big: 'x'.repeat(2 * 1024 * 1024) } } });
    assertUnauthorized(big, 'POST /jobs over the body limit without a token');
    assertUnauthorized(await server.request('POST', '/jobs', { body: { kind: 'echo', payload: {} } }), 'POST /jobs without a token');
    assertUnauthorized(await server.request('DELETE', '/jobs/00000000-0000-4000-8000-000000000000'), 'DELETE without a token');
    assert.equal((await server.engine.list({ limit: 500 })).jobs.length, before, 'no job was created');
  });
});

describe('binding', () => {
  const serve = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [MAIN_JS, 'serve', '--port', '0', '--data-dir', makeTempDir(), ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? '', ...env },
    });

  test('a non-loopback host without a token is refused at start-up: exit code 2 and a message that says what to do', () => {
    for (const [args, env] of [[['--host', '0.0.0.0'], {}], [[], { OFFLOAD_HOST: '0.0.0.0' }], [['--host', '::'], {}]] as const) {
      const result = serve([...args], env);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /refusing to listen on (0\.0\.0\.0|::) without a token/);
      assert.match(result.stderr, /--token \(OFFLOAD_TOKEN\)/);
      assert.match(result.stderr, /--allow-insecure-bind/);
      assert.equal(result.stdout, '', 'nothing was started');
    }
  });

  test('loopback addresses need no token', async () => {
    const child = await spawnServer(makeTempDir(), ['--host', '127.0.0.1']);
    try {
      assert.equal((await child.request('GET', '/readyz')).status, 200);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });

  test('--allow-insecure-bind starts without a token, and says so in the log', async () => {
    const child = await spawnServer(makeTempDir(), ['--host', '0.0.0.0', '--allow-insecure-bind']);
    try {
      const port = new URL(child.url).port;
      // Only ever called on the loopback address.
      assert.equal((await request(`http://127.0.0.1:${port}`, 'GET', '/readyz')).status, 200);
      const warning = child.output().split('\n').filter(Boolean).map((line) => JSON.parse(line)).find((line) => line.level === 40);
      assert.ok(warning, 'a warning is logged');
      assert.match(warning.msg, /non-loopback address without a token/);
      assert.equal(warning.host, '0.0.0.0');
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });

  test('a non-loopback host with a token starts, and the token is required', async () => {
    const child = await spawnServer(makeTempDir(), ['--host', '0.0.0.0', '--token', TOKEN]);
    try {
      const url = `http://127.0.0.1:${new URL(child.url).port}`;
      assertUnauthorized(await request(url, 'GET', '/readyz'), 'GET /readyz without a token');
      assert.equal((await request(url, 'GET', '/readyz', { headers: auth(TOKEN) })).status, 200);
      assert.ok(!child.output().includes(TOKEN), 'the token is never logged');
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });
});
