import Router from '@koa/router';
import { z } from 'zod';
import { ErrorCodes, ErrorDocs, type ErrorCode } from './error-codes.js';
import { API_TAGS, RESPONSE_REF, rootSecurity, SECURITY_SCHEMES, TRANSPORT_ERRORS, type ApiTag } from './openapi-components.js';
import { apiSchemas, ErrorResponse, narrowErrorCodes } from './schemas.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';

export interface HeaderDoc {
  description: string;
  /** Default: a string. */
  schema?: z.ZodType;
}

export interface ResponseDoc {
  description: string;
  /** The JSON body; must be registered in `apiSchemas` (src/http/schemas.ts), so it becomes a `$ref`. */
  schema?: z.ZodType;
  /** Default `application/json` when there is a schema; set it for streams, files and text. None: no body. */
  contentType?: string | readonly string[];
  headers?: Record<string, HeaderDoc>;
}

export interface RequestBodyDoc {
  /** Default `application/json`. Several for uploads that accept several formats. */
  contentType?: string | readonly string[];
  /** Omit for a body that is not JSON (an upload is described by its media types). */
  schema?: z.ZodType;
  description?: string;
  /** Default true. */
  required?: boolean;
}

/**
 * One route as the OpenAPI document shows it. Each `*-routes.ts` exports a list of these beside its router; app.ts
 * passes every list to `buildOpenApiDocument`, and test/openapi.test.ts fails when a route is served but not
 * described here, or described but not served.
 */
export interface RouteDoc {
  method: HttpMethod;
  /** An OpenAPI path template: `/jobs/{id}` for the router's `/jobs/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  /** At least one; each is described in API_TAGS (src/http/openapi-components.ts). */
  tags: [ApiTag, ...ApiTag[]];
  /** False for the routes served without a token (/healthz). Default true. */
  auth?: boolean;
  /** Path parameters; their names must be the path's `{…}` placeholders. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** A zod schema is a required JSON body. */
  body?: z.ZodType | RequestBodyDoc;
  /** Success answers by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * Error codes this route answers with, from the registry in errors.ts; each becomes a response under its status
   * with the error shape narrowed to those codes. `internal_error`, and `unauthorized` when a token is set, are
   * added to every route, and so are the 408 and 431 that Node's HTTP parser answers to any request.
   */
  errors?: readonly ErrorCode[];
}

export interface OpenApiOptions {
  version: string;
  /** A bearer token is required: every operation but the open ones needs it and answers 401 without it. */
  auth: boolean;
}

type JsonSchema = Record<string, unknown>;
export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, Record<string, unknown>> };

const JSON_MEDIA_TYPE = 'application/json';
const SCHEMA_REF = '#/components/schemas/';
const REQUEST_ID_HEADER = { $ref: '#/components/headers/X-Request-Id' };
const ERROR_RESPONSE_REF = { $ref: SCHEMA_REF + apiSchemas.get(ErrorResponse)!.id };

/** The OpenAPI 3.1 document of `routes`, generated from their zod schemas (JSON Schema 2020-12). */
export function buildOpenApiDocument(routes: readonly RouteDoc[], { version, auth }: OpenApiOptions): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    if (item[route.method]) throw new Error(`OpenAPI: ${route.method.toUpperCase()} ${route.path} is described twice`);
    item[route.method] = toOperation(route, auth);
  }
  const tags = [...new Set(routes.flatMap((route) => route.tags))].sort().map((name) => ({ name, description: API_TAGS[name] }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'offload',
      version,
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'A job engine: jobs are stored in SQLite before the answer and run on worker threads. Every error answer is ' +
        '`{"error": {"code", "message", "details"}}` (ErrorResponse); each operation lists the codes it can answer ' +
        'with. A method a path does not have is answered 405 `method_not_allowed`, an unknown path 404 `not_found`; ' +
        'bound to loopback, a `Host` that is not a loopback or --allowed-host name gets 421 `host_not_allowed`; ' +
        'malformed HTTP gets 400 `invalid_request`, headers over 16 KiB 431 `headers_too_large`, headers that ' +
        'arrive too slowly 408 `request_timeout`. ' +
        'Every answer carries `X-Request-Id` (the request\'s own, if it sent a sane one). ' +
        (auth
          ? 'This server requires `Authorization: Bearer <token>` on every operation but the open ones (`security: []`).'
          : 'This server was started without --token: it checks no `Authorization` header.'),
    },
    // Relative to where this document was fetched from: the server's own origin, whatever name reached it.
    servers: [{ url: '/', description: 'The server that served this document.' }],
    security: rootSecurity(auth),
    tags,
    paths,
    components: {
      schemas: componentSchemas(),
      parameters: {
        XRequestId: {
          name: 'X-Request-Id',
          in: 'header',
          required: false,
          description: 'Echoed in the answer and logged with the request; 1-128 of A-Z a-z 0-9 . _ : -, else one is made up.',
          schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
        },
      },
      headers: {
        'X-Request-Id': { description: 'The id of this request in the server log.', schema: { type: 'string' } },
      },
      responses: Object.fromEntries(Object.entries(TRANSPORT_ERRORS).map(([name, { code }]) => [name, toErrorResponse([code], false)])),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/** Builds the document on its first request: converting every schema cost ~70 ms of start-up, before recovery. */
export function createOpenApiRoutes(buildDocument: () => OpenApiDocument): Router {
  const router = new Router();
  let document: OpenApiDocument | undefined;
  router.get('/openapi.json', (ctx) => {
    document ??= buildDocument();
    ctx.body = document;
  });
  return router;
}

export const openApiRouteDocs: RouteDoc[] = [
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    tags: ['operations'],
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'The OpenAPI 3.1 document of this API.', contentType: JSON_MEDIA_TYPE } },
  },
];

function toOperation(route: RouteDoc, auth: boolean): Record<string, unknown> {
  const where = `${route.method.toUpperCase()} ${route.path}`;
  const placeholders = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!).sort();
  const paramNames = Object.keys(route.params?.shape ?? {}).sort();
  if (placeholders.join() !== paramNames.join()) {
    throw new Error(`OpenAPI: ${where} has placeholders {${placeholders.join('}, {')}} but params [${paramNames.join(', ')}]`);
  }
  const parameters = [
    ...toParameters(route.params, 'path'),
    ...toParameters(route.query, 'query'),
    ...toParameters(route.headers, 'header'),
    { $ref: '#/components/parameters/XRequestId' },
  ];

  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = toResponse(response, where, status);
  }
  const isProtected = auth && route.auth !== false;
  const codes = [...new Set<ErrorCode>([...(route.errors ?? []), ...(isProtected ? ['unauthorized' as const] : []), 'internal_error'])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ErrorCodes[code], [...(byStatus.get(ErrorCodes[code]) ?? []), code]);
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[status]) throw new Error(`OpenAPI: ${where} describes ${status} both as a success and as an error`);
    responses[status] = toErrorResponse(group as [ErrorCode, ...ErrorCode[]]);
  }
  // Node's HTTP parser answers these to any request (connection-limits.ts): one shared response each.
  for (const [name, { status }] of Object.entries(TRANSPORT_ERRORS)) {
    if (responses[status]) throw new Error(`OpenAPI: ${where} describes ${status}, which only the HTTP parser answers`);
    responses[status] = { $ref: RESPONSE_REF + name };
  }

  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    ...(route.auth === false ? { security: [] } : {}),
    parameters,
    ...(route.body ? { requestBody: toRequestBody(route.body) } : {}),
    responses,
  };
}

function toParameters(schema: z.ZodObject | undefined, where: 'path' | 'query' | 'header'): unknown[] {
  if (!schema) return [];
  const json = inputSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

function toRequestBody(body: z.ZodType | RequestBodyDoc): unknown {
  const doc: RequestBodyDoc = isZodSchema(body) ? { schema: body } : body;
  const schema = doc.schema ? inputSchema(doc.schema) : undefined;
  return {
    ...(doc.description ? { description: doc.description } : {}),
    required: doc.required ?? true,
    content: Object.fromEntries(mediaTypes(doc.contentType ?? JSON_MEDIA_TYPE).map((type) => [type, schema ? { schema } : {}])),
  };
}

function toResponse(response: ResponseDoc, where: string, status: string): unknown {
  let content: Record<string, unknown> | undefined;
  if (response.schema) {
    const id = apiSchemas.get(response.schema)?.id;
    if (!id) throw new Error(`OpenAPI: the ${status} answer of ${where} uses a schema that is not registered in apiSchemas (src/http/schemas.ts)`);
    const media = { schema: { $ref: SCHEMA_REF + id } };
    content = Object.fromEntries(mediaTypes(response.contentType ?? JSON_MEDIA_TYPE).map((type) => [type, media]));
  } else if (response.contentType) {
    content = Object.fromEntries(mediaTypes(response.contentType).map((type) => [type, {}]));
  }
  const headers: Record<string, unknown> = { 'X-Request-Id': REQUEST_ID_HEADER };
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    headers[name] = { description: header.description, schema: header.schema ? outputSchema(header.schema) : { type: 'string' } };
  }
  return { description: response.description, headers, ...(content ? { content } : {}) };
}

/** The ErrorResponse component with `error.code` narrowed to `codes`. */
function toErrorResponse(codes: [ErrorCode, ...ErrorCode[]], hasRequestId = true): unknown {
  const headers: Record<string, unknown> = hasRequestId ? { 'X-Request-Id': REQUEST_ID_HEADER } : {};
  if (codes.some((code) => ErrorDocs[code].retryAfter)) {
    headers['Retry-After'] = { description: 'Seconds to wait before trying again.', schema: { type: 'string', pattern: '^[0-9]+$' } };
  }
  if (codes.includes('unauthorized')) {
    headers['WWW-Authenticate'] = { description: 'The scheme to use: Bearer.', schema: { type: 'string' } };
  }
  return {
    description: codes.map((code) => `\`${code}\`: ${ErrorDocs[code].description}.`).join(' '),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { [JSON_MEDIA_TYPE]: { schema: { allOf: [ERROR_RESPONSE_REF, outputSchema(narrowErrorCodes(codes))] } } },
  };
}

/** `components.schemas`: every schema of the registry, in its output form (what the server answers). */
function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(apiSchemas, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => SCHEMA_REF + id,
  });
  // The document's dialect is JSON Schema 2020-12 already; an `$id` of "#/…" is not a valid 2020-12 id.
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutIdentity(schema as JsonSchema)]));
}

/** What a client may send: defaults make fields optional, coercions accept the input type. */
function inputSchema(schema: z.ZodType): JsonSchema {
  return withoutIdentity(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema);
}

function outputSchema(schema: z.ZodType): JsonSchema {
  return withoutIdentity(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as JsonSchema);
}

function withoutIdentity({ $schema: _schema, $id: _id, ...rest }: JsonSchema): JsonSchema {
  return rest;
}

function mediaTypes(contentType: string | readonly string[]): readonly string[] {
  return typeof contentType === 'string' ? [contentType] : contentType;
}

function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}
