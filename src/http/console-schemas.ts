// Schemas of the console's routes (job filters, retry and bulk actions, the event feed's summary, stats, dataset
// previews); shared with the OpenAPI document like those of schemas.ts.
import { z } from 'zod';
import { DISPLAY_STATUSES, JOB_STATUSES } from '../engine/job.js';
import { DatasetColumnSchema } from './resource-schemas.js';
import { apiSchemas } from './schemas.js';

/** Which jobs: the filters of GET /jobs and of the bulk actions. */
export const JobFilter = z.strictObject({
  kind: z.string().min(1).max(64).optional(),
  status: z.enum(DISPLAY_STATUSES).optional().describe('As shown in the job document: `scheduled` and `pending` split the pending jobs.'),
  dataset: z.uuid({ message: 'must be a UUID' }).optional().describe("A dataset's jobs: its import and its exports."),
  q: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'Text to find in the payload or the result (their JSON text; case-sensitive). With q, created_after or created_before a page ' +
        'examines a window of 10,000 jobs in creation order below the cursor: it may hold fewer than `limit` jobs, even none, with a next_cursor.',
    ),
  created_after: z.iso.datetime({ offset: true }).optional().describe('Created at or after this time (ISO-8601).'),
  created_before: z.iso.datetime({ offset: true }).optional().describe('Created before this time (ISO-8601).'),
});
export type JobFilter = z.infer<typeof JobFilter>;

export const ListJobsQuery = JobFilter.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(64).optional().describe('The `next_cursor` of the previous page.'),
});

/** The engine's request for a filter (times to epoch ms, the dataset as the jobs' ref). */
export function toListRequest(filter: JobFilter) {
  return {
    kind: filter.kind,
    status: filter.status,
    ref: filter.dataset?.toLowerCase(),
    text: filter.q,
    createdAfter: filter.created_after === undefined ? undefined : Date.parse(filter.created_after),
    createdBefore: filter.created_before === undefined ? undefined : Date.parse(filter.created_before),
  };
}

export const BulkActionBody = JobFilter.extend({
  limit: z.int().min(1).max(1000).default(1000).describe('Change at most this many jobs.'),
  all: z.literal(true).optional().describe('Required, and only allowed, without any filter: says that every job is meant.'),
})
  // `{}` is what a client sends by mistake (a lost filter, a stray curl): acting on every job must be said.
  .refine((body) => (body.all === true) === Object.keys(JobFilter.shape).every((key) => body[key as keyof JobFilter] === undefined), {
    message: 'give a filter (kind, status, dataset, q, created_after, created_before), or "all": true without one to mean every job',
    path: ['all'],
  });

export const BulkActionResult = z.object({
  changed: z.int().describe('Jobs cancelled (or asked to stop), or put back to pending.'),
  unchanged: z.int().describe('Jobs that matched but had ended meanwhile, or cannot run again (imports).'),
  job_ids: z.array(z.uuid()).describe('The jobs changed.'),
  more: z.boolean().describe('The limit was reached, or the scan stopped, before every matching job was seen: call again.'),
});
export type BulkActionResult = z.infer<typeof BulkActionResult>;
apiSchemas.add(BulkActionResult, { id: 'BulkActionResult' });


export const StatsQuery = z.strictObject({
  minutes: z.coerce.number().int().min(1).max(1440).default(60).describe('How many minutes of finishes, the current one included.'),
});

export const Stats = z.object({
  generated_at: z.iso.datetime(),
  since: z.iso.datetime().describe('The start of the first minute of `finished_per_minute`.'),
  threads: z.object({ total: z.int(), busy: z.int() }),
  queue: z.array(z.object({
    kind: z.string(),
    pending: z.int(),
    running: z.int(),
    oldest_due_age_ms: z.int().describe('How long the longest-waiting due job of the kind has been due; 0 when none is due.'),
  })),
  counts: z.array(z.object({ kind: z.string(), status: z.enum(JOB_STATUSES), count: z.int() })).describe('Every kind and status with jobs.'),
  finished_per_minute: z.array(z.object({
    minute: z.iso.datetime(),
    kind: z.string(),
    succeeded: z.int(),
    failed: z.int(),
    cancelled: z.int(),
  })).describe('Jobs that reached a final status, per minute and kind; minutes without any are left out.'),
});
export type Stats = z.infer<typeof Stats>;
apiSchemas.add(Stats, { id: 'Stats' });

export const PreviewQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });

export const DatasetPreview = z.object({
  columns: z.array(DatasetColumnSchema),
  rows: z
    .array(z.array(z.unknown()))
    .describe(
      'The first rows, one value per column: a string, number, boolean or null. A text value (also date, timestamp, json) is cut to ' +
        'its first 1000 characters, and the rows stop before `limit` once their text passes 1,000,000 characters.',
    ),
  total_rows: z.int(),
});
export type DatasetPreview = z.infer<typeof DatasetPreview>;
apiSchemas.add(DatasetPreview, { id: 'DatasetPreview' });
