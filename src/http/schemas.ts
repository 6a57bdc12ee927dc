// Request and response schemas: they validate requests, type the handlers' answers, and are the OpenAPI
// document's only source (src/http/openapi.ts). Add a schema here, not a JSON Schema by hand.
import { z } from 'zod';
import { GROUP_KEY_PATTERN } from '../engine/flow-control.js';
import { DEDUPE_POLICIES, DISPLAY_STATUSES, TIMER_LIMIT_MS } from '../engine/job.js';
import { ErrorCodes, type ErrorCode } from './error-codes.js';

/**
 * Response schemas, by the name they have under `components.schemas` in the OpenAPI document. Every schema a
 * route describes as a response body must be registered here (the document generator refuses one that is not), so
 * that a schema used in several places is one `$ref`.
 */
export const apiSchemas = z.registry<{ id: string }>();

export const JobIdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }).describe('The job id.') });

/**
 * The schema's bound is the largest delay a timer supports; the server's own ceiling (`--max-timeout-ms`, default
 * 7 days) is enforced by the engine at enqueue, for every route that creates jobs.
 */
export const MAX_TIMEOUT_MS = TIMER_LIMIT_MS;

/**
 * `callback_url` of the routes that create jobs: where to POST the final job document. Its host is checked against
 * the server's --callback-allow by the route (checkCallbackUrl).
 */
export const CallbackUrlField = z
  .string()
  .min(1)
  .max(2048)
  .optional()
  .describe(
    'POSTed the final job document (signed, see README "Completion callbacks") once the job succeeds, fails or is cancelled. ' +
      'http(s) only; a loopback, private or link-local address is refused unless the server allows its host (--callback-allow). ' +
      "Default: the server's --webhook, if any.",
  );

/** The furthest ahead a job may be scheduled (`run_at`, `delay_ms`): a year. */
/** A job's flow-control key (see Flow control in the README), on POST /jobs and POST /exports alike. */
export const GroupKeyField = z
  .string()
  .regex(GROUP_KEY_PATTERN, { message: 'must be 1 to 128 letters, digits or . _ ~ : @ / + = -' })
  .optional()
  .describe(
    'Flow-control key, e.g. a tenant: jobs with keys are claimed round-robin across keys, and --group-limit / ' +
      '--group-rate cap each key. 1 to 128 letters, digits or . _ ~ : @ / + = -.',
  );

export const MAX_DELAY_MS = 366 * 24 * 3_600_000;

/** When a new job may start: the fields of POST /jobs and POST /exports, checked by checkDelay. */
export const DelayFields = {
  run_at: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Not started before this time (ISO-8601; a past time runs now). At most a year ahead. Not with delay_ms.'),
  delay_ms: z.int().min(0).max(MAX_DELAY_MS).optional().describe('Not started before this many ms from now (at most a year). Not with run_at.'),
};

export function checkDelay(body: { run_at?: string | undefined; delay_ms?: number | undefined }, ctx: z.RefinementCtx): void {
  if (body.run_at !== undefined && body.delay_ms !== undefined) ctx.addIssue({ code: 'custom', message: 'give run_at or delay_ms, not both', path: ['run_at'] });
  else if (body.run_at !== undefined && Date.parse(body.run_at) - Date.now() > MAX_DELAY_MS) ctx.addIssue({ code: 'custom', message: 'must be at most a year ahead', path: ['run_at'] });
}

/** The engine's delay for a body's run_at or delay_ms: a wall-clock time becomes a delay from now, as the engine's clock does not follow wall-clock steps. */
export function delayMsOf(body: { run_at?: string | undefined; delay_ms?: number | undefined }): number | undefined {
  return body.run_at === undefined ? body.delay_ms : Math.max(0, Date.parse(body.run_at) - Date.now());
}

export const CreateJobBody = z.strictObject({
  kind: z.string().min(1).max(64).describe('A registered job kind.'),
  payload: z.record(z.string(), z.unknown()).default({}).describe("The job's input, passed to its worker module."),
  priority: z.int().min(-1000).max(1000).optional().describe('Higher runs first. Default 0.'),
  max_attempts: z.int().min(1).max(100).optional().describe('Attempts for retryable failures. Default 3.'),
  timeout_ms: z
    .int()
    .min(1)
    .max(MAX_TIMEOUT_MS)
    .optional()
    .describe("The attempt is stopped (error `timeout`) after this long. At most the server's --max-timeout-ms; default --default-timeout-ms."),
  ...DelayFields,
  dedupe_key: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe(
      'While a job of this kind holding the key is pending (or running, by dedupe_policy), that job is answered (200, `deduplicated: true`) ' +
        'instead of a new one. Unlike Idempotency-Key (one request, the same job for ever), it folds different requests into the one waiting job.',
    ),
  dedupe_policy: z
    .enum(DEDUPE_POLICIES)
    .optional()
    .describe(
      'With dedupe_key. pending (default): the key is held until the job starts; active: until it ends; latest: until it starts, and a ' +
        "duplicate replaces the pending job's payload with its own (keep latest).",
    ),
  callback_url: CallbackUrlField,
  group_key: GroupKeyField,
}).superRefine(checkDelay)
  .refine((body) => body.dedupe_policy === undefined || body.dedupe_key !== undefined, { message: 'needs a dedupe_key', path: ['dedupe_policy'] });
export type CreateJobBody = z.infer<typeof CreateJobBody>;

export const JobErrorSchema = z.object({
  code: z.string().describe('Why the attempt failed: task_error, worker_exit, worker_oom, timeout, cancelled, lost, …'),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
apiSchemas.add(JobErrorSchema, { id: 'JobError' });

export const CallbackDelivery = z.object({
  delivery_id: z.string().describe('Sent as Offload-Delivery: the same for every attempt (receivers dedupe on it; delivery is at least once).'),
  url: z.string(),
  event: z.enum(['job.succeeded', 'job.failed', 'job.cancelled']).describe('Sent as Offload-Event: the final status that caused it.'),
  state: z.enum(['pending', 'delivered', 'failed']).describe('failed: given up (its attempts ran out, or the address may not be reached).'),
  attempts: z.int(),
  next_attempt_at: z.iso.datetime().nullable().describe('While pending: when it is tried next.'),
  created_at: z.iso.datetime(),
  ended_at: z.iso.datetime().nullable(),
  log: z.array(
    z.object({
      attempt: z.int(),
      at: z.iso.datetime(),
      duration_ms: z.int(),
      status_code: z.int().nullable().describe('The HTTP status answered; null when there was no answer.'),
      error: z.string().nullable().describe('Why it did not count (a non-2xx status, a timeout, a refused address, …); null when delivered.'),
    }),
  ),
});
apiSchemas.add(CallbackDelivery, { id: 'CallbackDelivery' });

export const JobDocument = z.object({
  job_id: z.uuid(),
  kind: z.string(),
  status: z.enum(DISPLAY_STATUSES).describe('The state machine\'s status; `scheduled` for a pending job not started yet whose run_at is in the future.'),
  progress: z.object({ done: z.number(), total: z.number().nullable(), percent: z.number().nullable() }).nullable(),
  attempts: z.int(),
  max_attempts: z.int(),
  next_run_at: z.iso.datetime().nullable(),
  priority: z.int(),
  group_key: z.string().nullable().describe('Its flow-control key, if it was given one.'),
  timeout_ms: z.int().nullable(),
  error: JobErrorSchema.nullable(),
  result: z.unknown(),
  payload: z.unknown(),
  created_at: z.iso.datetime(),
  started_at: z.iso.datetime().nullable(),
  finished_at: z.iso.datetime().nullable(),
  dedupe_key: z.string().nullable().describe('The dedupe key the job was enqueued with.'),
  dedupe_policy: z.enum(DEDUPE_POLICIES).nullable(),
  callback_url: z.string().nullable().describe('Where the final job document is POSTed (its own callback_url, or the --webhook).'),
  attempt_history: z
    .array(
      z.object({
        attempt: z.int(),
        outcome: z.enum(['succeeded', 'failed', 'cancelled', 'retried', 'released']),
        error: JobErrorSchema.nullable(),
        owner: z.string().nullable(),
        started_at: z.iso.datetime().nullable(),
        ended_at: z.iso.datetime(),
      }),
    )
    .optional()
    .describe('Every ended attempt, oldest first (`retried`: it ran again; `released`: given back at a shutdown). In GET of one job.'),
  deliveries: z.array(CallbackDelivery).optional().describe('The completion callbacks of the job, oldest first, each with its log. In GET of one job.'),
});
export type JobDocument = z.infer<typeof JobDocument>;
apiSchemas.add(JobDocument, { id: 'JobDocument' });

export const JobAccepted = z.object({
  job_id: z.uuid(),
  status: z.enum(DISPLAY_STATUSES).describe('`pending` for a new job (`scheduled` with a future run_at or delay_ms); the current status for an idempotent replay.'),
  status_url: z.string().describe('Where to poll the job: GET it for the job document.'),
  deduplicated: z
    .boolean()
    .optional()
    .describe('True (status 200): a job holding the dedupe_key was answered instead of a new one; absent otherwise.'),
  payload_replaced: z.boolean().optional().describe("With deduplicated and dedupe_policy latest: the pending job's payload is now this request's."),
});
export type JobAccepted = z.infer<typeof JobAccepted>;
apiSchemas.add(JobAccepted, { id: 'JobAccepted' });

export const JobList = z.object({
  jobs: z.array(JobDocument).describe('Newest first.'),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
});
export type JobList = z.infer<typeof JobList>;
apiSchemas.add(JobList, { id: 'JobList' });

export const Health = z.object({ status: z.literal('ok') });
export type Health = z.infer<typeof Health>;
apiSchemas.add(Health, { id: 'Health' });

export const ReadinessCheck = z.object({
  name: z.enum(['database', 'pool', 'threads']).describe(
    'database: a real write commits within 1 s; pool: the worker pool is up; threads: no terminated thread is still alive.',
  ),
  ok: z.boolean(),
  message: z.string().optional().describe('Why the check failed.'),
});
apiSchemas.add(ReadinessCheck, { id: 'ReadinessCheck' });

/** The 200 answer of /readyz; a 503 `unavailable` carries the same checks in `error.details`. */
export const Readiness = z.object({
  status: z.literal('ready'),
  threads: z.int(),
  busy_threads: z.int(),
  checks: z.array(ReadinessCheck),
});
export type Readiness = z.infer<typeof Readiness>;
apiSchemas.add(Readiness, { id: 'Readiness' });

const ERROR_CODE_NAMES = Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]];

/** The error shape, with `code` narrowed to `codes`: the OpenAPI document uses it per route and status. */
export function errorResponseFor<const C extends readonly [ErrorCode, ...ErrorCode[]]>(codes: C) {
  return z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string().describe('A sentence for people; never a stack trace.'),
      details: z.unknown().optional().describe('For invalid_request, one {in, path, message} per problem.'),
    }),
  });
}

/**
 * What an error response adds to ErrorResponse: `code` is one of `codes`. The document's error responses are
 * `allOf` the ErrorResponse component and this.
 */
export function narrowErrorCodes<const C extends readonly [ErrorCode, ...ErrorCode[]]>(codes: C) {
  return z.looseObject({ error: z.looseObject({ code: z.enum(codes) }) });
}

/** Every error answer of the API (`handleErrors` builds exactly this). */
export const ErrorResponse = errorResponseFor(ERROR_CODE_NAMES);
export type ErrorResponse = z.infer<typeof ErrorResponse>;
apiSchemas.add(ErrorResponse, { id: 'ErrorResponse' });
