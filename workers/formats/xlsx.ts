// XLSX through exceljs's streaming WorkbookWriter: rows are committed as they come and only the current row is
// kept; inline strings (no shared-strings table, which would grow with the dataset) and two date formats as the
// only styles. Cell values: xlsx-cells.ts.
// - null → no cell; booleans → boolean cells (TRUE/FALSE); integers and reals → number cells. Excel shows numbers
//   with 15 significant digits, so integers above 999,999,999,999,999 look rounded in Excel although the file
//   holds them exactly (other readers get the exact value). Dates and timestamps → date cells.
// - text and json → inline string cells, never formulas, so a cell starting with = + - @ is inert here. Characters XML cannot
//   carry (control characters other than tab and LF, CR which XML readers turn into LF, U+FFFE/U+FFFF) are written
//   as `_xHHHH_` escapes, and a literal `_xHHHH_` in the text gets its `_` escaped as `_x005F_`, as ECMA-376
//   Part 1 §22.9.2.19 (ST_Xstring) specifies; Excel decodes them. Excel's limit of 32,767 characters per cell
//   is not enforced: longer text is written whole.
// - The header row holds the column names. A sheet holds at most 1,048,576 rows, so longer datasets continue on
//   sheets `data 2`, `data 3`, …, each starting with the header row.
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { DatasetColumn } from '../datasets/dataset-file.js';
import type { FormatModule, FormatWriter } from './format.js';
import { waitForDrain } from './output-buffer.js';
import { installDateFormats, toXlsxValue, XLSX_DATE_FORMAT, XLSX_TIMESTAMP_FORMAT, type XlsxValue } from './xlsx-cells.js';

export { escapeXlsxText } from './xlsx-cells.js';

export const XLSX_MAX_ROWS_PER_SHEET = 1_048_576;

/** The inverse, for readers that do not decode ST_Xstring escapes themselves (exceljs does not). */
export function unescapeXlsxText(text: string): string {
  return text.replace(/_x([0-9a-fA-F]{4})_/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * exceljs writes each committed row into the zip entry's input stream without looking at write()'s return value
 * (StreamBuf._pipe in lib/utils/stream-buf.js), so that stream's buffer grew by the whole uncompressed sheet
 * (~350 MB for 1M rows). Waiting for it to drain is the backpressure exceljs leaves out. `stream.pipes` is
 * exceljs-internal: without it, yielding a turn of the event loop is the best left to do.
 */
async function waitForZip(sheet: ExcelJS.Worksheet, out: Writable): Promise<void> {
  const zipInput = (sheet as unknown as { stream?: { pipes?: Writable[] } }).stream?.pipes?.[0];
  const buffered = (zipInput as { _writableState?: { length?: number } } | undefined)?._writableState?.length;
  if (zipInput && typeof buffered === 'number') {
    if (buffered > ZIP_INPUT_HIGH_WATER) await waitForDrain(zipInput, out);
  } else {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const ZIP_INPUT_HIGH_WATER = 1024 * 1024;

export const xlsxFormat: FormatModule = {
  createWriter: (columns, out) => createXlsxWriter(columns, out),
};

/** `maxRowsPerSheet` (header row included) is Excel's limit; tests lower it to see sheets roll over. */
export function createXlsxWriter(
  columns: readonly DatasetColumn[],
  out: Writable,
  { maxRowsPerSheet = XLSX_MAX_ROWS_PER_SHEET }: { maxRowsPerSheet?: number } = {},
): FormatWriter {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useSharedStrings: false,
    useStyles: false,
    // Level 1 took a third off the time of a 1M-row export against the default 6, and still shrinks the XML ~6×.
    zip: { zlib: { level: 1 } },
  });
  installDateFormats(workbook);
  // Positions whose values exceljs cannot take as they are; booleans and numbers go through unchanged.
  const converted = columns.flatMap((column, i) => (column.type === 'integer' || column.type === 'real' || column.type === 'boolean' ? [] : [i]));
  const types = columns.map((column) => column.type);
  const formats = columns.map((column) =>
    column.type === 'date' ? XLSX_DATE_FORMAT : column.type === 'timestamp' ? XLSX_TIMESTAMP_FORMAT : undefined,
  );
  const temporal = converted.filter((i) => formats[i] !== undefined);
  const header = columns.map((column) => toXlsxValue(column.name, 'text'));
  let sheetCount = 0;
  let rowsInSheet = 0;
  const startSheet = (previous?: ExcelJS.Worksheet): ExcelJS.Worksheet => {
    previous?.commit();
    sheetCount++;
    const next = workbook.addWorksheet(sheetCount === 1 ? 'data' : `data ${sheetCount}`);
    next.addRow(header).commit();
    rowsInSheet = 1;
    return next;
  };
  let sheet = startSheet();

  return {
    async writeRows(rows) {
      for (const row of rows) {
        if (rowsInSheet === maxRowsPerSheet) sheet = startSheet(sheet);
        const values = [...row] as XlsxValue[];
        for (const i of converted) {
          const value = row[i]!;
          if (value !== null) values[i] = toXlsxValue(value, types[i]!);
        }
        const added = sheet.addRow(values);
        for (const i of temporal) if (values[i] instanceof Date) added.getCell(i + 1).numFmt = formats[i]!;
        added.commit();
        rowsInSheet++;
      }
      await waitForZip(sheet, out);
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}
