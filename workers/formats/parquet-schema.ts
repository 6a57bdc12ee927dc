// How each column type is written in Parquet: the schema element, the value the writer takes, and the codecs.
// - integer → INT64; real → DOUBLE; boolean → BOOLEAN; text → BYTE_ARRAY with STRING (UTF8).
// - date → INT32 with DATE (days since 1970-01-01).
// - timestamp → INT64 with TIMESTAMP(MICROS): isAdjustedToUTC = true for a zoned column (its values normalised
//   to UTC; the legacy TIMESTAMP_MICROS annotation too), false for a column without zone (a wall-clock time).
// - json → BYTE_ARRAY with the JSON logical type and the JSON text as written. Not the legacy JSON converted
//   type: hyparquet-writer would JSON.stringify the text once more for it. No min/max statistics for it (an order
//   of JSON texts prunes nothing, and a long document would sit in the footer whole).
// - A column is REQUIRED when the dataset file says it holds no null, else OPTIONAL.
import * as zlib from 'node:zlib';
import type { SchemaElement } from 'hyparquet-writer';
import type { ParquetCodec } from '../../src/contracts/export-contract.js';
import type { ColumnType } from '../../src/contracts/import-contract.js';
import type { CellValue } from '../datasets/dataset-file.js';
import { dateToEpochDays, timestampToEpochMicros } from '../datasets/temporal.js';
import type { ExportColumn } from './format.js';

type ElementType = Omit<SchemaElement, 'name' | 'repetition_type'>;

const ELEMENTS: Record<Exclude<ColumnType, 'timestamp'>, ElementType> = {
  integer: { type: 'INT64' },
  real: { type: 'DOUBLE' },
  boolean: { type: 'BOOLEAN' },
  text: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  date: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
  json: { type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } },
};

export function schemaElement(column: ExportColumn): SchemaElement {
  const repetition_type = column.nullCount === 0 ? 'REQUIRED' : 'OPTIONAL';
  if (column.type !== 'timestamp') return { name: column.name, repetition_type, ...ELEMENTS[column.type] };
  const isAdjustedToUTC = column.timezone === 'UTC';
  return {
    name: column.name,
    repetition_type,
    type: 'INT64',
    ...(isAdjustedToUTC ? { converted_type: 'TIMESTAMP_MICROS' } : {}),
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC, unit: 'MICROS' },
  };
}

type Convert = (value: CellValue) => CellValue | bigint;

/** hyparquet-writer takes INT64 values as BigInt only. Identity where none is needed. */
export function valueConverter(type: ColumnType): Convert | undefined {
  switch (type) {
    case 'integer':
      return (value) => (value === null ? null : BigInt(value as number));
    case 'date':
      return (value) => (value === null ? null : dateToEpochDays(value as string));
    case 'timestamp':
      return (value) => (value === null ? null : timestampToEpochMicros(value as string));
    default:
      return undefined;
  }
}

/**
 * Bytes a value costs while its row group is gathered and encoded, roughly: what the row-group size limit counts,
 * since what it protects is the worker's memory. hyparquet-writer keeps several objects per value while it encodes
 * a group (its slice, levels, an encoded Uint8Array per text, the dictionary's entries): VALUE_OVERHEAD stands for
 * them, measured on the bench table (1M rows × 8 columns). Text also counts two bytes per UTF-16 unit — the heap
 * of a string with any character beyond Latin-1, and about its UTF-8 size for most scripts.
 */
const VALUE_OVERHEAD = 32;

export function estimatedBytes(type: ColumnType): ((value: CellValue) => number) | number {
  switch (type) {
    case 'text':
    case 'json':
      return (value) => VALUE_OVERHEAD + (value === null ? 0 : 4 + 2 * (value as string).length);
    case 'boolean':
      return VALUE_OVERHEAD + 1;
    case 'date':
      return VALUE_OVERHEAD + 4;
    default:
      return VALUE_OVERHEAD + 8;
  }
}

export const CODEC_NAMES = { snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', none: 'UNCOMPRESSED' } as const;

type Compressor = (input: Uint8Array) => Uint8Array;

/** Snappy is hyparquet-writer's own; the others come from node:zlib (Zstandard from Node 22.15 on). */
export function compressorsFor(codec: ParquetCodec): { GZIP?: Compressor; ZSTD?: Compressor } {
  if (codec === 'gzip') return { GZIP: (input) => zlib.gzipSync(input) };
  if (codec === 'zstd') {
    const zstd = (zlib as unknown as { zstdCompressSync?: (input: Uint8Array) => Buffer }).zstdCompressSync;
    if (!zstd) throw new Error('this Node.js has no Zstandard (node:zlib zstdCompressSync needs Node 22.15 or later)');
    return { ZSTD: (input) => zstd(input) };
  }
  return {};
}
