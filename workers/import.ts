// Job kind `import`: turns an uploaded CSV or NDJSON file into a dataset file (see datasets/dataset-file.ts).
//
// A column's type depends on all of its values. A CSV upload is read once when the types its first rows suggest
// hold for the whole file (imports/csv-import.ts), twice otherwise; an NDJSON upload is read twice: the first pass
// validates it and infers the column types, the second converts and writes the rows. Reading the file again costs
// less than holding the upload in memory or rewriting the dataset afterwards. Progress is in bytes of the upload
// (its total is the file's size), spread over the reads (imports/import-progress.ts), so that a client sees the
// size it sent and an even percentage.
import { stat } from 'node:fs/promises';
import type { JobContext } from '../src/contracts/task-context.js';
import { containedPath, isUuid, uploadPath } from '../src/contracts/data-layout.js';
import {
  COLUMN_TYPES,
  CSV_DELIMITERS,
  DEFAULT_MAX_RECORD_BYTES,
  IMPORT_CONTENT_TYPES,
  UPLOAD_CHARSETS,
  type ColumnType,
  type CsvDelimiter,
  type DatasetColumn,
  type ImportContentType,
  type ImportPayload,
  type ImportResult,
  type UploadCharset,
} from '../src/contracts/import-contract.js';
import { createAbortError, createTaskError } from '../src/contracts/task-errors.js';
import { createDatasetFile, removeStaleDatasetTempFiles, type DatasetFileWriter } from './datasets/dataset-file.js';
import type { UploadReadOptions } from './uploads/upload-pipeline.js';
import { importCsv } from './imports/csv-import.js';
import { importNdjson } from './imports/ndjson-import.js';
import { createImportProgress } from './imports/import-progress.js';

export default async function importDataset(payload: unknown, ctx: JobContext): Promise<ImportResult> {
  const request = parseImportPayload(payload);
  const datasetId = request.dataset_id;
  const sourcePath = containedPath(ctx.dataDir, uploadPath(ctx.dataDir, datasetId));

  let size: number;
  try {
    size = (await stat(sourcePath)).size;
  } catch (err) {
    throw createTaskError('invalid_payload', 'the uploaded file is missing (an earlier attempt finished, or it was removed)', { cause: err });
  }
  if (size === 0) throw createTaskError('invalid_payload', 'the upload is empty');

  removeStaleDatasetTempFiles(ctx.dataDir, datasetId);
  const progress = createImportProgress(size, (done, total) => ctx.progress(done, total));
  const options = {
    file: sourcePath,
    readOptions: (reads: number): UploadReadOptions => ({
      signal: ctx.signal,
      maxRecordBytes: request.max_record_bytes,
      charset: request.charset,
      ...progress.startRead(reads),
    }),
    progress,
    openWriter: (columns: DatasetColumn[]): DatasetFileWriter => createDatasetFile(ctx.dataDir, datasetId, columns, `import-${ctx.attempt}`),
    delimiter: request.delimiter,
    nullTokens: new Set(request.null_tokens),
    charset: request.charset,
    columnTypes: request.column_types,
  };

  try {
    const result = request.content_type === 'csv' ? await importCsv(options) : await importNdjson(options);
    progress.finish();
    return result;
  } catch (err) {
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
    throw err;
  }
}

type ParsedPayload = Required<Omit<ImportPayload, 'delimiter'>> & { delimiter: CsvDelimiter | undefined };

export function parseImportPayload(payload: unknown): ParsedPayload {
  if (payload === null || typeof payload !== 'object') throw createTaskError('invalid_payload', 'the payload must be an object');
  const {
    dataset_id,
    content_type,
    max_record_bytes = DEFAULT_MAX_RECORD_BYTES,
    delimiter,
    null_tokens = [],
    charset = 'utf-8',
    column_types = [],
  } = payload as Record<string, unknown>;
  if (!isUuid(dataset_id)) throw createTaskError('invalid_payload', 'dataset_id must be a UUID');
  if (!IMPORT_CONTENT_TYPES.includes(content_type as ImportContentType)) {
    throw createTaskError('invalid_payload', `content_type must be one of ${IMPORT_CONTENT_TYPES.join(', ')}`);
  }
  if (!Number.isSafeInteger(max_record_bytes) || (max_record_bytes as number) < 1) {
    throw createTaskError('invalid_payload', 'max_record_bytes must be a positive integer');
  }
  if (delimiter !== undefined && !CSV_DELIMITERS.includes(delimiter as CsvDelimiter)) {
    throw createTaskError('invalid_payload', 'delimiter must be one of , ; tab |');
  }
  if (!Array.isArray(null_tokens) || !null_tokens.every((token) => typeof token === 'string')) {
    throw createTaskError('invalid_payload', 'null_tokens must be an array of strings');
  }
  if (!UPLOAD_CHARSETS.includes(charset as UploadCharset)) throw createTaskError('invalid_payload', `charset must be one of ${UPLOAD_CHARSETS.join(', ')}`);
  const isColumnType = (entry: unknown): boolean => {
    const { name, type } = (entry ?? {}) as Record<string, unknown>;
    return typeof name === 'string' && COLUMN_TYPES.includes(type as ColumnType);
  };
  if (!Array.isArray(column_types) || !column_types.every(isColumnType)) {
    throw createTaskError('invalid_payload', 'column_types must be an array of {name, type}');
  }
  return {
    dataset_id,
    content_type: content_type as ImportContentType,
    max_record_bytes: max_record_bytes as number,
    delimiter: delimiter as CsvDelimiter | undefined,
    null_tokens: null_tokens as string[],
    charset: charset as UploadCharset,
    column_types: column_types as { name: string; type: ColumnType }[],
  };
}
