// Job kind `import`: turns an uploaded CSV or NDJSON file into a dataset file (see datasets/dataset-file.ts).
//
// The upload is read twice: the first pass validates it and infers the column types, the second converts and
// writes the rows. A column's type depends on all of its values, and reading the file again costs less than
// holding the upload in memory or rewriting the dataset afterwards. Progress is in bytes of the upload (its total is
// the file's size), each pass counting for half, so that a client sees the size it sent and an even percentage.
import { stat } from 'node:fs/promises';
import type { JobContext } from '../src/contracts/task-context.js';
import { containedPath, isUuid, uploadPath } from '../src/contracts/data-layout.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  IMPORT_CONTENT_TYPES,
  type DatasetColumn,
  type ImportContentType,
  type ImportPayload,
  type ImportResult,
} from '../src/contracts/import-contract.js';
import { createAbortError, createTaskError } from '../src/contracts/task-errors.js';
import {
  createDatasetFile,
  MAX_COLUMNS,
  removeStaleDatasetTempFiles,
  type CellValue,
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

export default async function importDataset(payload: unknown, ctx: JobContext): Promise<ImportResult> {
  const { dataset_id: datasetId, content_type: contentType, max_record_bytes: maxRecordBytes } = parseImportPayload(payload);
  const sourcePath = containedPath(ctx.dataDir, uploadPath(ctx.dataDir, datasetId));

  let size: number;
  try {
    size = (await stat(sourcePath)).size;
  } catch (err) {
    throw createTaskError('invalid_payload', 'the uploaded file is missing (an earlier attempt finished, or it was removed)', { cause: err });
  }
  if (size === 0) throw createTaskError('invalid_payload', 'the upload is empty');

  removeStaleDatasetTempFiles(ctx.dataDir, datasetId);
  const passOptions = (pass: 0 | 1): UploadReadOptions => ({
    signal: ctx.signal,
    maxRecordBytes,
    onBytesRead: (bytes) => ctx.progress(Math.floor((pass * size + bytes) / 2), size),
  });
  const openWriter = (columns: DatasetColumn[]): DatasetFileWriter =>
    createDatasetFile(ctx.dataDir, datasetId, columns, `import-${ctx.attempt}`);

  try {
    const result =
      contentType === 'csv'
        ? await importCsv(sourcePath, passOptions, openWriter)
        : await importNdjson(sourcePath, passOptions, openWriter);
    ctx.progress(size, size);
    return result;
  } catch (err) {
    if (ctx.signal.aborted) throw createAbortError(ctx.signal);
    throw err;
  }
}

export function parseImportPayload(payload: unknown): Required<ImportPayload> {
  if (payload === null || typeof payload !== 'object') throw createTaskError('invalid_payload', 'the payload must be an object');
  const { dataset_id, content_type, max_record_bytes = DEFAULT_MAX_RECORD_BYTES } = payload as Record<string, unknown>;
  if (!isUuid(dataset_id)) throw createTaskError('invalid_payload', 'dataset_id must be a UUID');
  if (!IMPORT_CONTENT_TYPES.includes(content_type as ImportContentType)) {
    throw createTaskError('invalid_payload', `content_type must be one of ${IMPORT_CONTENT_TYPES.join(', ')}`);
  }
  if (!Number.isSafeInteger(max_record_bytes) || (max_record_bytes as number) < 1) {
    throw createTaskError('invalid_payload', 'max_record_bytes must be a positive integer');
  }
  return { dataset_id, content_type: content_type as ImportContentType, max_record_bytes: max_record_bytes as number };
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
