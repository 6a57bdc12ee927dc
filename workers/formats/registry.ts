import type { ExportFormatName } from '../../src/contracts/export-contract.js';
import type { FormatModule } from './format.js';
import { csvFormat } from './csv.js';
import { ndjsonFormat } from './ndjson.js';
import { jsonFormat } from './json.js';
import { xlsxFormat } from './xlsx.js';
import { parquetFormat } from './parquet.js';

/** The writer of each format named in the contract; `satisfies` keeps the two lists in step. */
export const FORMAT_WRITERS = Object.freeze({
  csv: csvFormat,
  ndjson: ndjsonFormat,
  json: jsonFormat,
  xlsx: xlsxFormat,
  parquet: parquetFormat,
} satisfies Record<ExportFormatName, FormatModule>);
