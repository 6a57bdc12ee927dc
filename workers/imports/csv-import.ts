// A CSV upload into a dataset: pass 1 reads the header and types the columns, pass 2 converts and writes the rows.
import type { CsvDelimiter, ImportResult } from '../../src/contracts/import-contract.js';
import { readCsvUpload, describeDelimiter, type CsvField } from '../uploads/csv-upload.js';
import { detectCsvDelimiter } from '../uploads/csv-delimiter.js';
import { makeUniqueColumnNames } from '../uploads/column-names.js';
import { classifyCsvCell, convertCsvCell, isJsonText, type CellKind } from '../uploads/type-inference.js';
import { createColumnTyping, finishColumnTyping, observeCell, type ColumnTyping } from './column-typing.js';
import { describeResult, writeDataset, type ImportOptions } from './import-options.js';

export async function importCsv(options: ImportOptions): Promise<ImportResult> {
  const delimiter: CsvDelimiter = options.delimiter ?? (await detectCsvDelimiter(options.file));
  const dialect = { delimiter, nullTokens: options.nullTokens };
  let names: string[] = [];
  let typing: ColumnTyping = { forced: [], inferred: [] };
  await readCsvUpload(options.file, { ...options.passOptions(0), ...dialect }, {
    header(fields) {
      names = makeUniqueColumnNames(fields.map((field) => field ?? ''));
      typing = createColumnTyping(names, options.columnTypes);
    },
    rows(batch) {
      const { forced, inferred } = typing;
      for (const { fields, line } of batch) {
        for (let i = 0; i < fields.length; i++) {
          const type = forced[i];
          // Inference stops looking at a column once it is text: nothing can change it back.
          if (type === undefined && inferred[i] === 'text') continue;
          const value = fields[i]!;
          observeCell(typing, names, i, kindOf(value, type), line, value);
        }
      }
    },
  });

  const columns = finishColumnTyping(typing, names);
  const types = columns.map((column) => column.type);
  const { rows } = await writeDataset(options.openWriter(columns), (insert) =>
    readCsvUpload(options.file, { ...options.passOptions(1), ...dialect }, {
      header() {},
      rows(batch) {
        insert(batch.map(({ fields }) => fields.map((field: CsvField, i) => convertCsvCell(field, types[i]!))));
      },
    }),
  );
  return describeResult(options, { rows, columns, format: 'csv', delimiter, warnings: csvWarnings(rows, columns.length, delimiter) });
}

function kindOf(value: CsvField, forced: string | undefined): CellKind {
  if (forced === 'json' && value !== null && value !== '') return isJsonText(value) ? 'json' : 'text';
  return classifyCsvCell(value);
}

/** Uploads that import but are probably not what was meant say so in the dataset document. */
function csvWarnings(rows: number, width: number, delimiter: CsvDelimiter): string[] {
  const warnings: string[] = [];
  if (rows === 0) warnings.push('the CSV has a header row but no data rows: every column is text (name types with ?types= if that matters)');
  if (width === 1) {
    warnings.push(
      `the CSV has one column (split on ${describeDelimiter(delimiter)}): if the file has more, upload it with ?delimiter= set to its separator (, ; tab or |)`,
    );
  }
  return warnings;
}
