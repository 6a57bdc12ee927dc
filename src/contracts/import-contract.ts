// What the server and the `import` job kind agree on. The payload names the dataset by id only: the upload's
// path is derived from it (data-layout.ts), so no job ever carries a path a client could have chosen.

/** The job kind that turns uploads into datasets. */
export const IMPORT_KIND = 'import';

export const IMPORT_CONTENT_TYPES = ['csv', 'ndjson'] as const;
export type ImportContentType = (typeof IMPORT_CONTENT_TYPES)[number];

export const COLUMN_TYPES = ['integer', 'real', 'text', 'boolean'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface DatasetColumn {
  name: string;
  type: ColumnType;
}

/** The default of --max-record-mb: well under a worker's heap, far above any sane row. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

export interface ImportPayload {
  dataset_id: string;
  content_type: ImportContentType;
  /** The largest single record (NDJSON line, CSV row) accepted, bytes; larger ones fail the import. */
  max_record_bytes?: number;
}

export interface ImportResult {
  rows: number;
  columns: DatasetColumn[];
}
