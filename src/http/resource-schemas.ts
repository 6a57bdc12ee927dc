// Schemas of the dataset and export routes; shared with the OpenAPI document.
import { z } from 'zod';
import { DISPLAY_STATUSES } from '../engine/job.js';
import { EXPORT_COMPRESSIONS, EXPORT_FORMAT_NAMES, isParquetCodecAvailable, PARQUET_CODECS } from '../contracts/export-contract.js';
import { COLUMN_TYPES, CSV_DELIMITERS, IMPORT_CONTENT_TYPES, UPLOAD_CHARSETS } from '../contracts/import-contract.js';
import { apiSchemas, CallbackUrlField, checkDelay, DelayFields, GroupKeyField, JobDocument, JobErrorSchema, MAX_TIMEOUT_MS } from './schemas.js';

export const ResourceIdParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });

export { CreateDatasetQuery } from './import-query.js';

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).max(64).optional(),
});

export const ListExportsQuery = PageQuery.extend({
  status: z.enum(DISPLAY_STATUSES).optional().describe('As shown in the export document: `scheduled` and `pending` split the pending exports.'),
});

export const DatasetColumnSchema = z.object({
  name: z.string(),
  type: z.enum(COLUMN_TYPES),
  timezone: z
    .enum(['UTC'])
    .nullable()
    .optional()
    .describe('Timestamp columns only: `UTC` when the values had a zone offset (they are normalised to UTC), null when none had (wall-clock times).'),
});

export const DatasetImportInfo = z
  .object({
    format: z.enum(IMPORT_CONTENT_TYPES),
    delimiter: z.enum(CSV_DELIMITERS).nullable().describe('The CSV separator used, given or detected; null for NDJSON.'),
    charset: z.enum(UPLOAD_CHARSETS),
    null_tokens: z.array(z.string()).describe('Besides the empty field.'),
  })
  .describe('How the upload was read.');

export const DatasetDocument = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['importing', 'ready', 'failed']),
  rows: z.int().nullable(),
  columns: z.array(DatasetColumnSchema).nullable(),
  import: DatasetImportInfo.nullable().describe('Null until the import succeeded (and for datasets imported before this was recorded).'),
  warnings: z.array(z.string()).describe('What imported but is probably not what was meant: a header without rows, a single column.'),
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
  compression: z.enum(EXPORT_COMPRESSIONS).default('none').describe('gzip around the whole file; not for parquet, which compresses inside (parquet_codec).'),
  parquet_codec: z
    .enum(PARQUET_CODECS, { message: `must be one of ${PARQUET_CODECS.join(', ')}` })
    .optional()
    .describe('Parquet only: the compression of each column chunk, snappy by default. zstd needs the server to run on Node.js 22.15 or later.'),
  priority: z.int().min(-1000).max(1000).optional(),
  max_attempts: z.int().min(1).max(100).optional(),
  timeout_ms: z.int().min(1).max(MAX_TIMEOUT_MS).optional(),
  ...DelayFields,
  callback_url: CallbackUrlField,
  group_key: GroupKeyField,
}).superRefine((body, ctx) => {
  checkDelay(body, ctx);
  if (body.format === 'parquet' && body.compression === 'gzip') {
    ctx.addIssue({
      code: 'custom',
      path: ['compression'],
      message: 'gzip around a Parquet file makes it unreadable to Parquet readers; use "parquet_codec": "gzip" (or snappy, zstd) to compress inside the file',
    });
  }
  if (body.parquet_codec !== undefined && body.format !== 'parquet') {
    ctx.addIssue({ code: 'custom', path: ['parquet_codec'], message: 'applies to format parquet only' });
  } else if (body.parquet_codec !== undefined && !isParquetCodecAvailable(body.parquet_codec)) {
    ctx.addIssue({ code: 'custom', path: ['parquet_codec'], message: `${body.parquet_codec} is not available on this server (Node.js ${process.versions.node}; zstd needs 22.15 or later)` });
  }
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
