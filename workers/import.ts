// Job kind `import`: turns an uploaded CSV or NDJSON file into a dataset file (see datasets/dataset-file.ts).
//
// The upload is read twice: the first pass validates it and infers the column types, the second converts and
// writes the rows. A column's type depends on all of its values, and reading the file again costs less than
// holding the upload in memory or rewriting the dataset afterwards. Progress counts the bytes of both passes.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { JobContext } from '../src/engine/job.js';
import { createAbortError, createTaskError } from './job-error.js';
import {
  createDatasetFile,
  isDatasetId,
  MAX_COLUMNS,
  removeStaleDatasetTempFiles,
  type CellValue,
  type DatasetColumn,
  type DatasetFileWriter,
} from './datasets/dataset-file.js';
import { readCsvUpload, type CsvField } from './uploads/csv-upload.js';
import type { UploadReadOptions } from './uploads/upload-pipeline.js';
import { readNdjsonUpload } from './uploads/ndjson-upload.js';
import { makeUniqueColumnNames } from './uploads/column-names.js';
import {
  classifyCsvCell,
  classifyJsonCell,
  convertCsvCell,
  convertJsonCell,
  finalType,
  mergeKind,
  type InferredType,
} from './uploads/type-inference.js';

export const IMPORT_CONTENT_TYPES = ['csv', 'ndjson'] as const;
export type ImportContentType = (typeof IMPORT_CONTENT_TYPES)[number];

export interface ImportPayload {
  dataset_id: string;
  /** Absolute path of the uploaded file; the import reads it and leaves it in place (a retry reads it again). */
  source_path: string;
  content_type: ImportContentType;
}

export interface ImportResult {
  rows: number;
  columns: DatasetColumn[];
}

export default async function importDataset(payload: unknown, ctx: JobContext): Promise<ImportResult> {
  const { dataset_id: datasetId, source_path: sourcePath, content_type: contentType } = parseImportPayload(payload);

  let size: number;
  try {
    size = (await stat(sourcePath)).size;
  } catch (err) {
    throw createTaskError('invalid_payload', 'the uploaded file is missing', { cause: err });
  }
  if (size === 0) throw createTaskError('invalid_payload', 'the upload is empty');

  removeStaleDatasetTempFiles(ctx.dataDir, datasetId);
  const totalBytes = 2 * size;
  const passOptions = (pass: 0 | 1): UploadReadOptions => ({
    signal: ctx.signal,
    onBytesRead: (bytes) => ctx.progress(pass * size + bytes, totalBytes),
  });
  const openWriter = (columns: DatasetColumn[]): DatasetFileWriter =>
    createDatasetFile(ctx.dataDir, datasetId, columns, `import-${ctx.attempt}`);

  try {
    const result =
      contentType === 'csv'
        ? await importCsv(sourcePath, passOptions, openWriter)
        : await importNdjson(sourcePath, passOptions, openWriter);
    ctx.progress(totalBytes, totalBytes);
    return result;
  } catch (err) {
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
    throw err;
  }
}

export function parseImportPayload(payload: unknown): ImportPayload {
  if (payload === null || typeof payload !== 'object') throw createTaskError('invalid_payload', 'the payload must be an object');
  const { dataset_id, source_path, content_type } = payload as Record<string, unknown>;
  if (!isDatasetId(dataset_id)) throw createTaskError('invalid_payload', 'dataset_id must be a UUID');
  if (typeof source_path !== 'string' || !path.isAbsolute(source_path)) {
    throw createTaskError('invalid_payload', 'source_path must be an absolute path');
  }
  if (!IMPORT_CONTENT_TYPES.includes(content_type as ImportContentType)) {
    throw createTaskError('invalid_payload', `content_type must be one of ${IMPORT_CONTENT_TYPES.join(', ')}`);
  }
  return { dataset_id, source_path, content_type: content_type as ImportContentType };
}

type OpenWriter = (columns: DatasetColumn[]) => DatasetFileWriter;

async function importCsv(
  file: string,
  passOptions: (pass: 0 | 1) => UploadReadOptions,
  openWriter: OpenWriter,
): Promise<ImportResult> {
  let names: string[] = [];
  let inferred: InferredType[] = [];
  await readCsvUpload(file, passOptions(0), {
    header(fields) {
      names = makeUniqueColumnNames(fields.map((field) => field ?? ''));
      inferred = names.map(() => undefined);
    },
    rows(batch) {
      for (const { fields } of batch) {
        for (let i = 0; i < fields.length; i++) {
          if (inferred[i] !== 'text') inferred[i] = mergeKind(inferred[i], classifyCsvCell(fields[i]!));
        }
      }
    },
  });

  const columns = names.map((name, i) => ({ name, type: finalType(inferred[i]) }));
  const types = columns.map((column) => column.type);
  return writeDataset(openWriter(columns), columns, (insert) =>
    readCsvUpload(file, passOptions(1), {
      header() {},
      rows(batch) {
        insert(batch.map(({ fields }) => fields.map((field: CsvField, i) => convertCsvCell(field, types[i]!))));
      },
    }),
  );
}

async function importNdjson(
  file: string,
  passOptions: (pass: 0 | 1) => UploadReadOptions,
  openWriter: OpenWriter,
): Promise<ImportResult> {
  // Columns are the union of all keys, in the order each was first seen; a missing key is null.
  const positions = new Map<string, number>();
  const inferred: InferredType[] = [];
  let records = 0;
  await readNdjsonUpload(file, passOptions(0), (batch) => {
    for (const record of batch) {
      records++;
      for (let k = 0; k < record.keys.length; k++) {
        const key = record.keys[k]!;
        let position = positions.get(key);
        if (position === undefined) {
          position = positions.size;
          if (position >= MAX_COLUMNS) {
            throw createTaskError('invalid_payload', `line ${record.line} of the NDJSON brings the number of keys over ${MAX_COLUMNS}`);
          }
          positions.set(key, position);
          inferred.push(undefined);
        }
        if (inferred[position] !== 'text') inferred[position] = mergeKind(inferred[position], classifyJsonCell(record.values[k]!));
      }
    }
  });
  if (records === 0) throw createTaskError('invalid_payload', 'the NDJSON has no records (only blank lines)');
  if (positions.size === 0) throw createTaskError('invalid_payload', 'the NDJSON records have no keys');

  const names = makeUniqueColumnNames([...positions.keys()]);
  const columns = names.map((name, i) => ({ name, type: finalType(inferred[i]) }));
  const types = columns.map((column) => column.type);
  return writeDataset(openWriter(columns), columns, (insert) =>
    readNdjsonUpload(file, passOptions(1), (batch) => {
      insert(
        batch.map((record) => {
          const row: CellValue[] = new Array<CellValue>(types.length).fill(null);
          for (let k = 0; k < record.keys.length; k++) {
            const position = positions.get(record.keys[k]!);
            if (position === undefined) throw new Error(`the upload changed between passes (new key on line ${record.line})`);
            row[position] = convertJsonCell(record.values[k]!, types[position]!);
          }
          return row;
        }),
      );
    }),
  );
}

async function writeDataset(
  writer: DatasetFileWriter,
  columns: DatasetColumn[],
  readRows: (insert: (rows: CellValue[][]) => void) => Promise<void>,
): Promise<ImportResult> {
  try {
    await readRows((rows) => writer.insertRows(rows));
    const { rowCount } = writer.finish();
    return { rows: rowCount, columns };
  } catch (err) {
    writer.abandon();
    throw err;
  }
}
