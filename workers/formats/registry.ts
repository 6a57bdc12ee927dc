import type { ExportFormat } from './format.js';
import { csvFormat } from './csv.js';
import { ndjsonFormat } from './ndjson.js';
import { jsonFormat } from './json.js';
import { xlsxFormat } from './xlsx.js';
import { parquetFormat } from './parquet.js';

export const EXPORT_FORMATS = Object.freeze({
  csv: csvFormat,
  ndjson: ndjsonFormat,
  json: jsonFormat,
  xlsx: xlsxFormat,
  parquet: parquetFormat,
} satisfies Record<string, ExportFormat>);

export type ExportFormatName = keyof typeof EXPORT_FORMATS;

export function isExportFormatName(value: unknown): value is ExportFormatName {
  return typeof value === 'string' && Object.hasOwn(EXPORT_FORMATS, value);
}
