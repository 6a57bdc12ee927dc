import { OPEN_PATHS } from '../src/http/auth.js';
import { SECURITY_SCHEMES } from '../src/http/openapi-components.js';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type Koa from 'koa';
import { pino } from 'pino';
import { createApp } from '../src/http/app.js';
import { ErrorCodes, type ErrorCode } from '../src/http/errors.js';
import { request, startTestServer, type TestResponse, type TestServer } from './helpers.js';

// Codes of the registry that no route answers with yet: the dataset and export routes will. Take a code out of
// this set once a described route answers with it.
const NOT_YET_ROUTED: ReadonlySet<string> = new Set([]);
// Answered before any route (a method a path does not have, a Host not allowed when bound to loopback): there is
// no operation to hang them on; the document's description names them. (The parser's 408 and 431 are answers to
// any request: every operation refers to them.)
const ROUTER_LEVEL: ReadonlySet<string> = new Set(['method_not_allowed', 'host_not_allowed']);

const silent = pino({ level: 'silent' });
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; [key: string]: any };
  [key: string]: any;
};

let server: TestServer;
/** The server's document (no token). */
let document: Doc;
/** An app of the same engine started with a token, served over HTTP: its document describes auth. */
let tokenApp: { url: string; document: Doc; close(): Promise<void> };

before(async () => {
  server = await startTestServer();
  const res = await server.request('GET', '/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  document = res.body;

  const http: Server = createServer(createApp({ ...server.offload, logger: silent, token: 's3cret' }).callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const withToken = await request(url, 'GET', '/openapi.json', { headers: { authorization: 'Bearer s3cret' } });
  assert.equal(withToken.status, 200);
  tokenApp = { url, document: withToken.body, close: () => new Promise((resolve) => http.close(() => resolve())) };
});
after(async () => {
  await tokenApp?.close();
  await server.close();
});

/** `METHOD /path/{param}` of every route the app's routers serve, read from the routers' layers. */
function servedRoutes(app: Koa): string[] {
  const routes: string[] = [];
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router }).router;
    if (!router) continue;
    for (const layer of router.stack) {
      const path = layer.path.toString().replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      for (const method of layer.methods) if (method !== 'HEAD') routes.push(`${method} ${path}`);
    }
  }
  return routes.sort();
}

function describedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)).sort();
}

function operations(doc: Doc): Array<{ method: string; path: string; operation: any }> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ method, path, operation })));
}

/** A response, or the shared one under `components.responses` it refers to. */
function resolveResponse(doc: Doc, response: any): any {
  return response?.$ref ? doc.components.responses[response.$ref.replace('#/components/responses/', '')] : response;
}

/** The error codes an error response allows: it is ErrorResponse, with `error.code` narrowed to them. */
function codesOf(response: any): string[] {
  const [base, narrowing] = response.content['application/json'].schema.allOf;
  assert.deepEqual(base, { $ref: '#/components/schemas/ErrorResponse' });
  return narrowing.properties.error.properties.code.enum;
}

/** Validates answers against the document's own schemas, with `#/components/schemas/X` resolved. */
function createResponseValidator(doc: Doc) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, formats: { uuid: true, 'date-time': true } });
  const rewrite = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/'));
  const $defs = rewrite(doc.components.schemas);
  return (method: string, template: string, res: TestResponse) => {
    const operation = doc.paths[template]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${template} is described`);
    const response = resolveResponse(doc, operation.responses[String(res.status)]);
    assert.ok(response, `${method} ${template} documents status ${res.status} (${res.text.slice(0, 200)})`);
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!;
    if (!response.content) {
      assert.equal(res.text, '', `${method} ${template} ${res.status} has no body`);
      return;
    }
    const media = response.content[contentType];
    assert.ok(media, `${method} ${template} ${res.status} documents ${contentType}; it has ${Object.keys(response.content)}`);
    // Documented headers that every such answer carries (others, like Retry-After, depend on the state).
    for (const name of ['X-Request-Id', 'Location']) {
      if (response.headers?.[name]) assert.ok(res.headers.get(name), `${method} ${template} ${res.status} sends ${name}`);
    }
    for (const name of res.headers.keys()) {
      if (['retry-after', 'location', 'www-authenticate'].includes(name)) {
        const documented = Object.keys(response.headers ?? {}).map((h) => h.toLowerCase());
        assert.ok(documented.includes(name), `${method} ${template} ${res.status} sends ${name}, which is not documented`);
      }
    }
    if (!media.schema) return;
    const validate = ajv.compile({ ...rewrite(media.schema), $defs });
    assert.ok(validate(res.body), `${method} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`);
  };
}

describe('GET /openapi.json', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  test('every schema in it is valid JSON Schema 2020-12', () => {
    const ajv = new Ajv2020({ strict: true, formats: { uuid: true, 'date-time': true } });
    const schemas: unknown[] = [...Object.values(document.components.schemas)];
    for (const { operation } of operations(document)) {
      for (const parameter of operation.parameters ?? []) if (parameter.schema) schemas.push(parameter.schema);
      for (const media of Object.values<any>(operation.requestBody?.content ?? {})) if (media.schema) schemas.push(media.schema);
      for (const response of Object.values<any>(operation.responses)) {
        for (const media of Object.values<any>(response.content ?? {})) if (media.schema) schemas.push(media.schema);
      }
    }
    const $defs = JSON.parse(JSON.stringify(document.components.schemas).replaceAll('"#/components/schemas/', '"#/$defs/'));
    for (const schema of schemas) {
      const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/'));
      assert.doesNotThrow(() => ajv.compile({ ...rewritten, $defs }), JSON.stringify(schema));
    }
  });

  test('describes exactly the routes the routers serve', () => {
    const app = createApp({ ...server.offload, logger: silent });
    const served = servedRoutes(app);
    assert.ok(served.length >= 9, `the routers' layers were read: ${served}`);
    assert.deepEqual(describedRoutes(document), served,
      'a route is served but not described (add its RouteDoc beside it), or described but not served');
    // Same with a token: the set of routes does not depend on it.
    assert.deepEqual(servedRoutes(createApp({ ...server.offload, logger: silent, token: 't' })), served);
  });

  test('request schemas come from the zod schemas that validate requests', () => {
    const create = document.paths['/jobs']!.post;
    const body = create.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['kind'], 'payload has a default, so it is optional to send');
    assert.equal(body.additionalProperties, false, 'unknown fields are refused');
    assert.equal(body.properties.priority.type, 'integer');
    const list = document.paths['/jobs']!.get;
    const limit = list.parameters.find((p: any) => p.name === 'limit');
    assert.deepEqual({ in: limit.in, required: limit.required, max: limit.schema.maximum, def: limit.schema.default }, { in: 'query', required: false, max: 500, def: 50 });
    const id = document.paths['/jobs/{id}']!.get.parameters.find((p: any) => p.name === 'id');
    assert.deepEqual({ in: id.in, required: id.required, format: id.schema.format }, { in: 'path', required: true, format: 'uuid' });
    assert.deepEqual(document.paths['/jobs/{id}']!.get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/JobDocument' });
  });

  test('real answers, successes and errors, match the documented statuses, headers and schemas', async () => {
    const check = createResponseValidator(document);
    const validId = '00000000-0000-4000-8000-000000000000';
    const created = await server.request('POST', '/jobs', { body: { kind: 'echo', payload: { a: 1 } } });
    check('POST', '/jobs', created);
    const failed = await server.request('POST', '/jobs', { body: { kind: 'throws', payload: {}, max_attempts: 1 } });
    await server.waitForJob(created.body.job_id);
    await server.waitForJob(failed.body.job_id);
    check('GET', '/jobs/{id}', await server.request('GET', `/jobs/${created.body.job_id}`));
    check('GET', '/jobs/{id}', await server.request('GET', `/jobs/${failed.body.job_id}`));
    check('GET', '/jobs', await server.request('GET', '/jobs?limit=5'));
    check('GET', '/jobs/{id}/events', await server.request('GET', `/jobs/${created.body.job_id}/events`));
    const { job: pending } = await server.engine.enqueue({ kind: 'noop', payload: {}, runAt: Date.now() + 60_000 });
    check('DELETE', '/jobs/{id}', await server.request('DELETE', `/jobs/${pending.id}`));
    check('DELETE', '/jobs/{id}', await server.request('DELETE', `/jobs/${pending.id}`)); // 409 conflict
    check('DELETE', '/jobs/{id}', await server.request('DELETE', `/jobs/${validId}`)); // 404
    check('GET', '/jobs/{id}', await server.request('GET', '/jobs/not-a-uuid')); // 400
    check('GET', '/jobs/{id}/events', await server.request('GET', `/jobs/${validId}/events`)); // 404
    check('GET', '/jobs', await server.request('GET', '/jobs?limit=0')); // 400
    check('POST', '/jobs', await server.request('POST', '/jobs', { rawBody: '{', headers: { 'content-type': 'application/json' } }));
    check('POST', '/jobs', await server.request('POST', '/jobs', { rawBody: 'x', headers: { 'content-type': 'text/plain' } }));
    check('POST', '/jobs', await server.request('POST', '/jobs', { body: { kind: 'noop', payload: { big: 'x'.repeat(1100 * 1024) } } }));
    check('POST', '/jobs', await server.request('POST', '/jobs', { body: { kind: 'nope', payload: {} } }));
    check('POST', '/jobs', await server.request('POST', '/jobs', { body: { kind: 'noop', timeout_ms: 8 * 24 * 3600 * 1000 } }));
    check('GET', '/healthz', await server.request('GET', '/healthz'));
    check('GET', '/healthz', await server.request('GET', '/healthz', { headers: { 'x-big': 'x'.repeat(20_000) } })); // 431
    check('GET', '/readyz', await server.request('GET', '/readyz'));
    check('GET', '/metrics', await server.request('GET', '/metrics'));
    check('GET', '/openapi.json', await server.request('GET', '/openapi.json'));
  });

  test('with a token: a bearer security scheme, the open paths exempt, 401 on every other operation', async () => {
    const doc = tokenApp.document;
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    assert.deepEqual(doc.components.securitySchemes, SECURITY_SCHEMES);
    assert.equal(SECURITY_SCHEMES.bearerAuth.scheme, 'bearer');
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    assert.deepEqual(document.security, [{}, { bearerAuth: [] }], 'without a token: anonymous, or a bearer that is not checked');
    assert.deepEqual(document.components.securitySchemes, SECURITY_SCHEMES);
    for (const { method, path, operation } of operations(doc)) {
      if (OPEN_PATHS.has(path)) {
        assert.deepEqual(operation.security, []);
        assert.deepEqual(document.paths[path]![method].security, [], 'open paths say so with or without a token');
        assert.equal(operation.responses['401'], undefined);
      } else {
        assert.equal(operation.security, undefined, `${method} ${path} has the root's security`);
        assert.deepEqual(codesOf(operation.responses['401']), ['unauthorized'], `${method} ${path}`);
        assert.ok(operation.responses['401'].headers['WWW-Authenticate']);
      }
      assert.equal(document.paths[path]![method].responses['401'], undefined, `${method} ${path}: no 401 without a token`);
    }
    const check = createResponseValidator(doc);
    check('GET', '/readyz', await request(tokenApp.url, 'GET', '/readyz'));
    check('GET', '/metrics', await request(tokenApp.url, 'GET', '/metrics'));
    check('GET', '/healthz', await request(tokenApp.url, 'GET', '/healthz'));
  });
});

describe('the error-code registry', () => {
  test('every code maps to a 4xx or 5xx status', () => {
    for (const [code, status] of Object.entries(ErrorCodes)) {
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`);
      assert.match(code, /^[a-z]+(_[a-z]+)*$/, 'codes are snake_case');
    }
  });

  test('the ErrorResponse schema lists every code of the registry', () => {
    assert.deepEqual([...document.components.schemas.ErrorResponse.properties.error.properties.code.enum].sort(), Object.keys(ErrorCodes).sort());
  });

  test('each documented error response sits under the status of its codes, and every routed code is documented', () => {
    const documented = new Set<string>();
    for (const { method, path, operation } of operations(tokenApp.document)) {
      for (const [status, reference] of Object.entries<any>(operation.responses)) {
        if (Number(status) < 400) continue;
        const response = resolveResponse(tokenApp.document, reference);
        for (const code of codesOf(response)) {
          assert.equal(ErrorCodes[code as ErrorCode], Number(status), `${method} ${path}: ${code} under ${status}`);
          documented.add(code);
        }
        assert.ok(response.description.length > 0);
      }
      assert.ok(operation.responses['500'], `${method} ${path} documents 500 internal_error`);
    }
    const undocumented = Object.keys(ErrorCodes).filter((code) => !documented.has(code));
    for (const code of undocumented) {
      assert.ok(NOT_YET_ROUTED.has(code) || ROUTER_LEVEL.has(code), `error code ${code} is in the registry but no operation documents it`);
    }
  });

  test('405 method_not_allowed is answered with the registry status and shape', async () => {
    const res = await server.request('PUT', '/healthz');
    assert.equal(res.status, ErrorCodes.method_not_allowed);
    assert.equal(res.body.error.code, 'method_not_allowed');
  });
});
