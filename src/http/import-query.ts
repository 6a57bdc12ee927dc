// The import options of POST /datasets, from its query string and Content-Type: validated here, carried to the
// worker in the ImportPayload (src/contracts/import-contract.ts).
import { z } from 'zod';
import { COLUMN_TYPES, type ColumnType, type CsvDelimiter, type UploadCharset } from '../contracts/import-contract.js';
import type { ImportOptions } from '../datasets/datasets.js';
import { AppError } from './errors.js';

/** Names for the separators, since a tab or `;` is awkward to put in a query string by hand. */
const DELIMITER_NAMES: Record<string, CsvDelimiter> = {
  ',': ',', comma: ',',
  ';': ';', semicolon: ';',
  '\t': '\t', tab: '\t',
  '|': '|', pipe: '|',
};

const MAX_NULL_TOKENS = 32;

const TYPES_MESSAGE = `must be name:type pairs separated by commas, each type one of ${COLUMN_TYPES.join(', ')}, each column named once`;

/** `a:integer,when:date` → pairs; the type follows the last colon, so a name may hold colons (not commas). */
export function parseColumnTypes(text: string): { name: string; type: ColumnType }[] | undefined {
  const pairs = text.split(',').map((pair) => {
    const colon = pair.lastIndexOf(':');
    return { name: pair.slice(0, colon), type: pair.slice(colon + 1) as ColumnType };
  });
  const valid = pairs.every(({ name, type }) => name !== '' && COLUMN_TYPES.includes(type));
  return valid && new Set(pairs.map((pair) => pair.name)).size === pairs.length ? pairs : undefined;
}

export const CreateDatasetQuery = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  delimiter: z
    .enum(Object.keys(DELIMITER_NAMES) as [string, ...string[]], { message: 'must be one of , ; | tab (or comma, semicolon, pipe, tab)' })
    .optional()
    .describe('CSV only: the field separator, `,` `;` `|` or a tab (also by name: comma, semicolon, pipe, tab). Detected from the header line when absent (the one of them found most often; `,` on a tie); the dataset document says which.'),
  null: z
    .string()
    .max(1000)
    .refine((text) => text.split(',').length <= MAX_NULL_TOKENS, `must hold at most ${MAX_NULL_TOKENS} comma-separated tokens`)
    .optional()
    .describe('Comma-separated tokens that mean null, e.g. `NA,NULL,\\N`: an unquoted CSV field (or an NDJSON string) equal to one is null. The empty unquoted field is always null; a quoted token is text.'),
  charset: z
    .string()
    .max(64)
    .optional()
    .describe('The upload\'s character set, like the Content-Type charset parameter: utf-8 (default) or iso-8859-1 (latin1). Others are refused with 415.'),
  types: z
    .string()
    .max(20_000)
    .refine((text) => parseColumnTypes(text) !== undefined, TYPES_MESSAGE)
    .optional()
    .describe(`Column types that replace inference: \`name:type\` pairs separated by commas (\`zip:text,day:date\`), type one of ${COLUMN_TYPES.join(', ')}. Names are the dataset's (after duplicates got their suffix); a value that does not fit fails the import with its line.`),
});
export type CreateDatasetQuery = z.infer<typeof CreateDatasetQuery>;

const CHARSET_LABELS: Record<string, UploadCharset> = {
  'utf-8': 'utf-8', utf8: 'utf-8', 'us-ascii': 'utf-8', ascii: 'utf-8',
  'iso-8859-1': 'iso-8859-1', iso8859_1: 'iso-8859-1', 'iso_8859-1': 'iso-8859-1', 'iso8859-1': 'iso-8859-1',
  latin1: 'iso-8859-1', 'latin-1': 'iso-8859-1', l1: 'iso-8859-1', cp819: 'iso-8859-1', ibm819: 'iso-8859-1',
};

function charsetOf(label: string): UploadCharset {
  const charset = CHARSET_LABELS[label.trim().toLowerCase()];
  if (!charset) {
    throw new AppError('unsupported_media_type', `The charset ${JSON.stringify(label.slice(0, 64))} is not supported for uploads: send UTF-8 or ISO-8859-1 (latin-1).`);
  }
  return charset;
}

/** The query's options and the Content-Type's charset as the import's options; a charset given twice must agree. */
export function importOptionsOf(query: CreateDatasetQuery, contentTypeCharset: string): ImportOptions {
  const fromHeader = contentTypeCharset === '' ? undefined : charsetOf(contentTypeCharset);
  const fromQuery = query.charset === undefined ? undefined : charsetOf(query.charset);
  if (fromHeader && fromQuery && fromHeader !== fromQuery) {
    throw new AppError('invalid_request', `The charset is given twice and differently: ${fromHeader} in Content-Type, ${fromQuery} in the query.`, {
      details: [{ in: 'query', path: 'charset', message: 'contradicts the Content-Type charset' }],
    });
  }
  const nullTokens = query.null === undefined ? [] : [...new Set(query.null.split(',').filter((token) => token !== ''))];
  return {
    delimiter: query.delimiter === undefined ? undefined : DELIMITER_NAMES[query.delimiter],
    nullTokens,
    charset: fromQuery ?? fromHeader ?? 'utf-8',
    columnTypes: query.types === undefined ? [] : parseColumnTypes(query.types)!,
  };
}
