// Which separator a CSV upload uses, told from its header line: the one of `,` `;` tab `|` found most often outside
// quotes (`,` on a tie, and when none is there). A TSV sent as text/csv, or a `;`-separated export of a European
// spreadsheet, is read as what it is instead of as one column.
import { open } from 'node:fs/promises';
import { CSV_DELIMITERS, type CsvDelimiter } from '../../src/contracts/import-contract.js';

/** A header longer than this is judged by its first part: the separators are there already. */
const SCAN_BYTES = 1024 * 1024;

export async function detectCsvDelimiter(file: string): Promise<CsvDelimiter> {
  const handle = await open(file, 'r');
  let bytes: Buffer;
  try {
    const buffer = Buffer.alloc(SCAN_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SCAN_BYTES, 0);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  return delimiterOfHeader(bytes);
}

/**
 * Counts on bytes, not characters: every candidate is ASCII, and no byte of a multi-byte UTF-8 character (nor any
 * ISO-8859-1 byte above 0x7F) is one. A quote toggles "inside quotes" (a doubled quote toggles twice).
 */
export function delimiterOfHeader(bytes: Uint8Array): CsvDelimiter {
  const codes = CSV_DELIMITERS.map((delimiter) => delimiter.charCodeAt(0));
  const counts = codes.map(() => 0);
  let quoted = false;
  for (const byte of bytes) {
    if (byte === 0x22) quoted = !quoted;
    else if (!quoted && (byte === 0x0a || byte === 0x0d)) break;
    else if (!quoted) {
      const index = codes.indexOf(byte);
      if (index !== -1) counts[index]!++;
    }
  }
  let best = 0;
  counts.forEach((count, index) => {
    if (count > counts[best]!) best = index;
  });
  return CSV_DELIMITERS[best]!;
}
