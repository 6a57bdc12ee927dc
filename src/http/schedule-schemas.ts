// The schedules' request and response schemas (see schemas.ts): validation and the OpenAPI document's source.
import { z } from 'zod';
import { CATCH_UP_MAX_RUNS, CATCH_UP_POLICIES, MIN_INTERVAL_MS, MISFIRE_GRACE_MS, OVERLAP_POLICIES } from '../engine/schedule.js';
import { canonicalTimeZone, cronProblem } from '../engine/schedule-timing.js';
import { apiSchemas, CreateJobBody, MAX_DELAY_MS } from './schemas.js';

export const ScheduleIdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }).describe('The schedule id.') });

const JobTemplateBody = z.strictObject({
  kind: CreateJobBody.shape.kind,
  payload: CreateJobBody.shape.payload,
  priority: CreateJobBody.shape.priority,
  max_attempts: CreateJobBody.shape.max_attempts,
  timeout_ms: CreateJobBody.shape.timeout_ms,
}).describe('What each run enqueues: the fields of POST /jobs but for the times.');

const cron = z.string().max(200).superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).describe('5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), read on the wall clock of time_zone.');

const timeZone = z.string().max(64).refine((value) => canonicalTimeZone(value) !== undefined, { message: 'not a time zone of the IANA database' })
  .describe('An IANA zone name, e.g. Europe/Berlin. Default UTC. Interval schedules ignore it.');

const intervalMs = z.int().min(MIN_INTERVAL_MS).max(MAX_DELAY_MS).describe(`Or: every this many ms from the creation (at least ${MIN_INTERVAL_MS}).`);

const catchUp = z.enum(CATCH_UP_POLICIES).describe(
  `Due times missed (more than ${MISFIRE_GRACE_MS / 1000} s late: no process was up, or none could write): \`skip\` runs none of them, ` +
    `\`once\` one job for all, \`all\` each, oldest first, at most ${CATCH_UP_MAX_RUNS}. Default skip.`,
);
const overlap = z.enum(OVERLAP_POLICIES).describe(
  'When a run is due while the previous job of this schedule is still pending or running: `allow` enqueues it anyway, `skip` drops it, ' +
    '`queue-one` keeps one waiting until the active job ended (further ones are dropped). Default allow.',
);
const name = z.string().min(1).max(200).nullable().describe('A label for people.');

export const CreateScheduleBody = z.strictObject({
  name: name.optional(),
  cron: cron.optional(),
  interval_ms: intervalMs.optional(),
  time_zone: timeZone.default('UTC'),
  job: JobTemplateBody,
  catch_up: catchUp.default('skip'),
  overlap: overlap.default('allow'),
  paused: z.boolean().default(false).describe('A paused schedule enqueues nothing; resuming does not catch up what it missed.'),
}).refine((body) => (body.cron === undefined) !== (body.interval_ms === undefined), { message: 'give exactly one of cron and interval_ms', path: ['cron'] });
export type CreateScheduleBody = z.infer<typeof CreateScheduleBody>;

export const UpdateScheduleBody = z.strictObject({
  name: name.optional(),
  cron: cron.optional().describe('Replaces the cron expression, or the interval.'),
  interval_ms: intervalMs.optional().describe('Replaces the interval, or the cron expression.'),
  time_zone: timeZone.optional(),
  job: JobTemplateBody.optional().describe('Replaces the job template whole.'),
  catch_up: catchUp.optional(),
  overlap: overlap.optional(),
  paused: z.boolean().optional().describe('true pauses (a queued run is dropped); false resumes from now.'),
}).refine((body) => body.cron === undefined || body.interval_ms === undefined, { message: 'give cron or interval_ms, not both', path: ['cron'] })
  .refine((body) => Object.keys(body).length > 0, { message: 'give at least one field to change' });
export type UpdateScheduleBody = z.infer<typeof UpdateScheduleBody>;

const iso = z.iso.datetime();

export const ScheduleDocument = z.object({
  schedule_id: z.uuid(),
  name: z.string().nullable(),
  cron: z.string().nullable(),
  interval_ms: z.int().nullable(),
  time_zone: z.string().describe('The canonical spelling of the zone.'),
  job: z.object({
    kind: z.string(),
    payload: z.unknown(),
    priority: z.int(),
    max_attempts: z.int().nullable().describe("Null: the server's default."),
    timeout_ms: z.int().nullable().describe("Null: the server's default."),
  }),
  catch_up: z.enum(CATCH_UP_POLICIES),
  overlap: z.enum(OVERLAP_POLICIES),
  paused: z.boolean(),
  next_due_at: iso.nullable().describe('When the next run is due; null while paused.'),
  queued_due_at: iso.nullable().describe('A run kept waiting by overlap queue-one, enqueued once the active job ended.'),
  last_run: z.object({ due_at: iso, job_id: z.uuid() }).nullable().describe('The latest run enqueued: its due time and job.'),
  runs_enqueued: z.int(),
  runs_skipped: z.int().describe('Due times dropped by the catch-up or the overlap policy.'),
  recent_runs: z.array(z.object({ due_at: iso, job_id: z.uuid(), enqueued_at: iso })).optional()
    .describe('The latest runs, newest first (at most 20). In GET of one schedule.'),
  created_at: iso,
  updated_at: iso,
});
export type ScheduleDocument = z.infer<typeof ScheduleDocument>;
apiSchemas.add(ScheduleDocument, { id: 'ScheduleDocument' });

export const ScheduleList = z.object({
  schedules: z.array(ScheduleDocument).describe('Oldest first.'),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
});
export type ScheduleList = z.infer<typeof ScheduleList>;
apiSchemas.add(ScheduleList, { id: 'ScheduleList' });

export const ListSchedulesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().regex(/^\d{1,16}\.[0-9a-f-]{36}$/, 'not a cursor of this list').optional().describe('The `next_cursor` of the previous page.'),
});
