// Schemas of the dataset and export routes; shared with the OpenAPI document.
import { z } from 'zod';
import { JOB_STATUSES } from '../engine/job.js';
import { EXPORT_COMPRESSIONS, EXPORT_FORMAT_NAMES } from '../contracts/export-contract.js';
import { COLUMN_TYPES } from '../contracts/import-contract.js';
import { apiSchemas, JobDocument, JobErrorSchema, MAX_TIMEOUT_MS } from './schemas.js';

export const ResourceIdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });

export const CreateDatasetQuery = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
});

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(64).optional(),
});

export const ListExportsQuery = PageQuery.extend({
  status: z.enum(JOB_STATUSES).optional(),
});

export const DatasetColumnSchema = z.object({ name: z.string(), type: z.enum(COLUMN_TYPES) });

export const DatasetDocument = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['importing', 'ready', 'failed']),
  rows: z.int().nullable(),
  columns: z.array(DatasetColumnSchema).nullable(),
  job_id: z.uuid(),
  error: JobErrorSchema.nullable(),
  created_at: z.iso.datetime(),
});

export const DatasetList = z.object({ datasets: z.array(DatasetDocument), next_cursor: z.string().nullable() });

export const CreateExportBody = z.strictObject({
  dataset_id: z.uuid({ message: 'must be a UUID' }),
  format: z.enum(EXPORT_FORMAT_NAMES, { message: `must be one of ${EXPORT_FORMAT_NAMES.join(', ')}` }),
  columns: z
    .array(z.string().min(1).max(1000))
    .min(1)
    .max(2000)
    .refine((names) => new Set(names).size === names.length, 'must not name a column twice')
    .optional(),
  compression: z.enum(EXPORT_COMPRESSIONS).default('none'),
  priority: z.int().min(-1000).max(1000).optional(),
  max_attempts: z.int().min(1).max(100).optional(),
  timeout_ms: z.int().min(1).max(MAX_TIMEOUT_MS).optional(),
});

export const ExportResult = z.object({
  download_url: z.string(),
  bytes: z.int(),
  rows: z.int(),
  sha256: z.string(),
  content_type: z.string(),
  filename: z.string(),
  expires_at: z.iso.datetime(),
  expired: z.boolean(),
});

export const ExportDocument = JobDocument.extend({ result: ExportResult.nullable() });
export const ExportList = z.object({ exports: z.array(ExportDocument), next_cursor: z.string().nullable() });

export const AcceptedExport = z.object({ job_id: z.uuid(), status: z.string(), status_url: z.string() });
export const AcceptedDataset = z.object({ id: z.uuid(), job_id: z.uuid(), status: z.literal('importing'), status_url: z.string() });

export const IdempotencyKeyHeader = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const IdempotencyHeaders = z.object({
  'Idempotency-Key': IdempotencyKeyHeader.optional().describe(
    'Same key and same body: the same job comes back (200). Same key, different body: 409 conflict.',
  ),
});

apiSchemas.add(DatasetColumnSchema, { id: 'DatasetColumn' });
apiSchemas.add(DatasetDocument, { id: 'Dataset' });
apiSchemas.add(DatasetList, { id: 'DatasetList' });
apiSchemas.add(AcceptedDataset, { id: 'DatasetAccepted' });
apiSchemas.add(ExportResult, { id: 'ExportResult' });
apiSchemas.add(ExportDocument, { id: 'ExportDocument' });
apiSchemas.add(ExportList, { id: 'ExportList' });
apiSchemas.add(AcceptedExport, { id: 'ExportAccepted' });
