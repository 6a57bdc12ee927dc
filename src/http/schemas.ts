// Request and response schemas: they validate requests and describe the API (GET /openapi.json).
import { z } from 'zod';
import { JOB_STATUSES } from '../engine/job.js';

export const JobIdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });

export const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

export const CreateJobBody = z.strictObject({
  kind: z.string().min(1).max(64),
  payload: z.record(z.string(), z.unknown()).default({}),
  priority: z.int().min(-1000).max(1000).optional(),
  max_attempts: z.int().min(1).max(100).optional(),
  timeout_ms: z.int().min(1).max(MAX_TIMEOUT_MS).optional(),
});
export type CreateJobBody = z.infer<typeof CreateJobBody>;

export const ListJobsQuery = z.strictObject({
  kind: z.string().min(1).max(64).optional(),
  status: z.enum(JOB_STATUSES as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(64).optional(),
});

export const JobErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const JobDocument = z.object({
  job_id: z.uuid(),
  kind: z.string(),
  status: z.enum(JOB_STATUSES as [string, ...string[]]),
  progress: z.object({ done: z.number(), total: z.number().nullable(), percent: z.number().nullable() }).nullable(),
  attempts: z.int(),
  max_attempts: z.int(),
  next_run_at: z.iso.datetime().nullable(),
  priority: z.int(),
  timeout_ms: z.int().nullable(),
  error: JobErrorSchema.nullable(),
  result: z.unknown(),
  payload: z.unknown(),
  created_at: z.iso.datetime(),
  started_at: z.iso.datetime().nullable(),
  finished_at: z.iso.datetime().nullable(),
});
export type JobDocument = z.infer<typeof JobDocument>;

export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
