// The download name is user text (the dataset's name) that ends up in a Content-Disposition header and then in a
// file system we do not know, so it is reduced to something every system accepts.
const FORBIDDEN = /[/\\:*?"<>|]/g;
const LINE_AND_CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/gu;
// Format characters, including bidirectional overrides that could make "txt.exe" look like "exe.txt".
const FORMAT_CHARACTERS = /\p{Cf}/gu;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;
// A dataset is often named after its upload ("sales.csv"): "sales.csv.xlsx" would mislead.
const DATA_EXTENSION = /\.(csv|tsv|txt|ndjson|jsonl|json|xlsx|xls|parquet)(\.gz)?$/i;
const MAX_BASE_CHARACTERS = 100;

export function createDownloadName(base: string | undefined, fallback: string, extension: string): string {
  return `${sanitizeBase(base ?? '') || sanitizeBase(fallback) || 'export'}.${extension}`;
}

function sanitizeBase(raw: string): string {
  let name = raw
    .normalize('NFC')
    .replace(LINE_AND_CONTROL, ' ')
    .replace(FORMAT_CHARACTERS, '')
    .replace(FORBIDDEN, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(DATA_EXTENSION, '')
    .replace(/^[.\s]+|[.\s]+$/g, '');
  name = Array.from(name).slice(0, MAX_BASE_CHARACTERS).join('').replace(/[.\s]+$/, '');
  return WINDOWS_RESERVED.test(name) ? `_${name}` : name;
}
