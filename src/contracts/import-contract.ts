// What the server and the `import` job kind agree on. The payload names the dataset by id only: the upload's
// path is derived from it (data-layout.ts), so no job ever carries a path a client could have chosen.

/** The job kind that turns uploads into datasets. */
export const IMPORT_KIND = 'import';

export const IMPORT_CONTENT_TYPES = ['csv', 'ndjson'] as const;
export type ImportContentType = (typeof IMPORT_CONTENT_TYPES)[number];

/**
 * `date`: a calendar day, stored as `YYYY-MM-DD`. `timestamp`: an instant or a wall-clock time to the microsecond,
 * stored as ISO-8601 text, `Z`-terminated (normalised to UTC) when the column's `timezone` is `UTC`, without an
 * offset when it is null. `json`: any JSON value (nested arrays and objects from NDJSON), stored as its JSON text.
 */
export const COLUMN_TYPES = ['integer', 'real', 'text', 'boolean', 'date', 'timestamp', 'json'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface DatasetColumn {
  name: string;
  type: ColumnType;
  /** Timestamp columns only: `UTC` when the values carried a zone offset (normalised to UTC), null when none did. */
  timezone?: 'UTC' | null;
}

/** The separators a CSV upload may use; detected from the header line when the payload names none. */
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

/** The character sets an upload may be in; everything is stored as UTF-8. */
export const UPLOAD_CHARSETS = ['utf-8', 'iso-8859-1'] as const;
export type UploadCharset = (typeof UPLOAD_CHARSETS)[number];

/** The default of --max-record-mb: well under a worker's heap, far above any sane row. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

export interface ImportPayload {
  dataset_id: string;
  content_type: ImportContentType;
  /** The largest single record (NDJSON line, CSV row) accepted, bytes; larger ones fail the import. */
  max_record_bytes?: number;
  /** CSV only; detected from the header line when absent. */
  delimiter?: CsvDelimiter;
  /** Unquoted CSV fields (and NDJSON strings) equal to one of these are null, besides the empty field. */
  null_tokens?: string[];
  /** utf-8 when absent. */
  charset?: UploadCharset;
  /** Types that replace inference for the named columns (final names, after duplicates got their suffix). */
  column_types?: { name: string; type: ColumnType }[];
}

export interface ImportResult {
  rows: number;
  columns: DatasetColumn[];
  /** How the upload was read (absent in results of imports from before these options existed). */
  format?: ImportContentType;
  delimiter?: CsvDelimiter | null;
  charset?: UploadCharset;
  null_tokens?: string[];
  /** Things that imported but are probably not what was meant: a header without rows, a single column. */
  warnings?: string[];
}
