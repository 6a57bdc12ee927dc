// How one dataset value becomes an XLSX cell value for exceljs, and the number formats that make Excel show date
// cells as dates.
// - text (and json, as its JSON text) → an inline string (`t="inlineStr"`): exceljs writes a plain string without
//   a shared-strings table as `t="str"`, the type of a formula's cached result; a rich-text value is the one it
//   writes inline. A shared-strings table is not used because it grows with the dataset's distinct texts.
// - dates and timestamps → date cells (a serial day number with a date number format): `yyyy-mm-dd` and
//   `yyyy-mm-dd hh:mm:ss.000`. Excel has no time zones: timestamps show their UTC wall clock (zoned columns) or
//   their own (columns without zone), to the millisecond. Excel's serial days start in 1900 and count a 29
//   February 1900 that never was, so values before 1900-03-01 are written as their ISO-8601 text instead.
import type ExcelJS from 'exceljs';
import type { CellValue } from '../datasets/dataset-file.js';
import type { ColumnType } from '../../src/contracts/import-contract.js';
import { timestampToEpochMillis } from '../datasets/temporal.js';

export const XLSX_DATE_FORMAT = 'yyyy-mm-dd';
export const XLSX_TIMESTAMP_FORMAT = 'yyyy-mm-dd hh:mm:ss.000';

// eslint-disable-next-line no-control-regex
const NOT_XML_SAFE = /[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]|_(?=x[0-9a-fA-F]{4}_)/g;

/** ST_Xstring escaping (see xlsx.ts); exceljs itself drops these characters. */
export function escapeXlsxText(text: string): string {
  return text.replace(NOT_XML_SAFE, (char) => `_x${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}_`);
}

const FIRST_SERIAL_DAY = '1900-03-01';

export type XlsxValue = ExcelJS.CellValue;

/** `value` is not null. */
export function toXlsxValue(value: CellValue, type: ColumnType): XlsxValue {
  switch (type) {
    case 'text':
    case 'json':
      return { richText: [{ text: escapeXlsxText(value as string) }] };
    case 'date':
    case 'timestamp': {
      const text = value as string;
      if (text < FIRST_SERIAL_DAY) return { richText: [{ text }] };
      return new Date(type === 'date' ? `${text}T00:00:00Z` : timestampToEpochMillis(text));
    }
    default:
      return value;
  }
}

interface StylesMock {
  model: { styles: object[]; numFmts: { id: number; formatCode: string }[] };
  addStyleModel(model: { numFmt?: string } | undefined, cellType: number): number;
}

/**
 * With `useStyles: false`, exceljs's writer keeps a stand-in style table that gives every date cell one built-in
 * format (m/d/yy). Its two-line extension here (exceljs-internal: the workbook's `styles`, a StylesXform.Mock) adds
 * the two ISO formats and picks one by the cell's `numFmt`, without a style lookup for every other cell.
 */
export function installDateFormats(workbook: ExcelJS.stream.xlsx.WorkbookWriter): void {
  const styles = (workbook as unknown as { styles?: StylesMock }).styles;
  if (!styles?.model?.styles || !Array.isArray(styles.model.numFmts)) return;
  const ids = new Map<string, number>();
  for (const formatCode of [XLSX_DATE_FORMAT, XLSX_TIMESTAMP_FORMAT]) {
    const numFmtId = 164 + styles.model.numFmts.length; // 164: the first id of a custom number format
    styles.model.numFmts.push({ id: numFmtId, formatCode });
    ids.set(formatCode, styles.model.styles.length);
    styles.model.styles.push({ numFmtId, fontId: 0, fillId: 0, borderId: 0, xfId: 0 });
  }
  const fallback = styles.addStyleModel.bind(styles);
  styles.addStyleModel = (model, cellType) => ids.get(model?.numFmt ?? '') ?? fallback(model, cellType);
}
