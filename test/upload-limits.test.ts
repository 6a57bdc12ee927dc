// The record-size limit of the upload readers (maxRecordBytes): a record over it fails with record_too_large
// while streaming, after reading little more than the limit; a record of exactly the limit is read. Also the
// field and key counts a dataset can never hold, which the readers refuse before building them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { readCsvUpload, type CsvRecord } from '../workers/uploads/csv-upload.js';
import { readNdjsonUpload, type NdjsonRecord } from '../workers/uploads/ndjson-upload.js';
import { makeTempDir } from './helpers.js';

const MiB = 1024 * 1024;
/** The readers read 1 MiB at a time; a failing read may have a few more chunks in flight, never many. */
const READ_AHEAD = 4 * MiB;

let fileCount = 0;

/** Writes the parts one after another, so a 60 MB upload is never one string in this process. */
async function writeUpload(...parts: (string | Buffer)[]): Promise<string> {
  const file = path.join(makeTempDir('offload-upload-limits-'), `upload-${++fileCount}`);
  const handle = await open(file, 'w');
  try {
    for (const part of parts) await handle.write(typeof part === 'string' ? Buffer.from(part) : part);
  } finally {
    await handle.close();
  }
  return file;
}

const filler = (bytes: number, char = 'x'): Buffer => Buffer.alloc(bytes, char);

type Format = 'ndjson' | 'csv';

interface Read {
  records: (NdjsonRecord | CsvRecord)[];
  /** The largest running total onBytesRead reported, also when the read failed. */
  bytesRead: number;
}

async function readUpload(format: Format, file: string, maxRecordBytes: number, read: Read = { records: [], bytesRead: 0 }): Promise<Read> {
  const options = {
    signal: new AbortController().signal,
    maxRecordBytes,
    onBytesRead: (total: number) => (read.bytesRead = Math.max(read.bytesRead, total)),
  };
  if (format === 'ndjson') {
    await readNdjsonUpload(file, options, (batch) => read.records.push(...batch));
  } else {
    await readCsvUpload(file, options, { header() {}, rows: (batch) => read.records.push(...batch) });
  }
  return read;
}

const readNdjson = async (file: string, maxRecordBytes: number) =>
  (await readUpload('ndjson', file, maxRecordBytes)).records as NdjsonRecord[];
const readCsv = async (file: string, maxRecordBytes: number) => (await readUpload('csv', file, maxRecordBytes)).records as CsvRecord[];

/**
 * Asserts that reading fails with `code` and a message matching `message` that names no file path, and that
 * the reader stopped within READ_AHEAD of `stopsBy` bytes.
 */
async function assertReadFails(
  format: Format,
  file: string,
  maxRecordBytes: number,
  expected: { code: string; message: RegExp; stopsBy: number },
): Promise<void> {
  const read: Read = { records: [], bytesRead: 0 };
  await assert.rejects(readUpload(format, file, maxRecordBytes, read), (err: Error & { code?: string }) => {
    assert.equal(err.code, expected.code, err.message);
    assert.match(err.message, expected.message);
    assert.ok(!err.message.includes(path.dirname(file)) && !err.message.includes(path.basename(file)), err.message);
    return true;
  });
  assert.ok(read.bytesRead <= expected.stopsBy + READ_AHEAD, `read ${read.bytesRead} bytes, limit ${expected.stopsBy}`);
}

const tooLarge = (what: string, limit: number): RegExp =>
  new RegExp(`^${what} is longer than the limit of ${limit} bytes \\(--max-record-mb\\)$`);

test('NDJSON: a 60 MB line fails with record_too_large once 16 MiB of it are read', async () => {
  const file = await writeUpload('{"v":"', filler(60 * MiB), '"}\n');
  await assertReadFails('ndjson', file, 16 * MiB, {
    code: 'record_too_large',
    message: tooLarge('line 1 of the NDJSON', 16 * MiB),
    stopsBy: 16 * MiB,
  });
});

test('NDJSON: the line named is the long one, blank lines counted', async () => {
  const file = await writeUpload('{"a":1}\n\r\n{"a":"', filler(6 * MiB), '"}\n{"a":2}\n');
  await assertReadFails('ndjson', file, 2 * MiB, {
    code: 'record_too_large',
    message: tooLarge('line 3 of the NDJSON', 2 * MiB),
    stopsBy: 2 * MiB + 10,
  });
});

test('NDJSON: a line of exactly the limit is read, one byte more fails, across read chunks and with CRLF', async () => {
  // 2 MiB − 1 bytes from the start of the file: the CR of the CRLF is the last byte of the second read chunk and
  // the LF the first of the third, so the CR is pending when the line reaches its limit.
  const limit = 2 * MiB - 1;
  const line = (bytes: number): string => `{"v":"${'x'.repeat(bytes - 8)}"}`;
  const exact = await readNdjson(await writeUpload(line(limit), '\r\n{"v":"y"}\r\n'), limit);
  assert.deepEqual(exact.map((record) => record.line), [1, 2]);
  assert.equal((exact[0]!.values[0] as string).length, limit - 8);

  await assertReadFails('ndjson', await writeUpload(line(limit + 1), '\r\n{"v":"y"}\r\n'), limit, {
    code: 'record_too_large',
    message: tooLarge('line 1 of the NDJSON', limit),
    stopsBy: limit,
  });

  // A line that starts inside a chunk and ends two chunks later, with LF only.
  const head = '{"a":"b"}\n';
  const second = await readNdjson(await writeUpload(head, line(limit), '\n'), limit);
  assert.equal(second.length, 2);
  await assertReadFails('ndjson', await writeUpload(head, line(limit + 1), '\n'), limit, {
    code: 'record_too_large',
    message: tooLarge('line 2 of the NDJSON', limit),
    stopsBy: head.length + limit,
  });
});

test('NDJSON and CSV: a record of exactly the default limit (16 MiB) is read, one byte more is not', async () => {
  const limit = 16 * MiB;
  const ndjson = await readUpload('ndjson', await writeUpload('{"v":"', filler(limit - 8), '"}\n'), limit);
  assert.equal(((ndjson.records[0] as NdjsonRecord).values[0] as string).length, limit - 8);
  assert.equal(ndjson.bytesRead, limit + 1);
  await assertReadFails('ndjson', await writeUpload('{"v":"', filler(limit - 7), '"}\n'), limit, {
    code: 'record_too_large',
    message: tooLarge('line 1 of the NDJSON', limit),
    stopsBy: limit,
  });

  const csv = await readCsv(await writeUpload('a,b\n1,"', filler(limit - 4), '"\n'), limit);
  assert.equal(csv[0]!.fields[1]!.length, limit - 4);
  await assertReadFails('csv', await writeUpload('a,b\n1,"', filler(limit - 3), '"\n'), limit, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 2', limit),
    stopsBy: 4 + limit,
  });
});

test('CSV: a 60 MB unquoted field fails with record_too_large once 16 MiB of it are read', async () => {
  const file = await writeUpload('a\n', filler(60 * MiB), '\n');
  await assertReadFails('csv', file, 16 * MiB, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 2', 16 * MiB),
    stopsBy: 2 + 16 * MiB,
  });
});

test('CSV: an unclosed quote swallowing the file fails with record_too_large at the line it opens on', async () => {
  // Without a limit this would end as "a quoted field is never closed", after holding 20 MB.
  const lines = `${'x'.repeat(998)}\r\n`.repeat(20 * 1024);
  const head = 'a,b\r\n"multi\r\nline",1\r\n2,"';
  const file = await writeUpload(head, lines);
  await assertReadFails('csv', file, 4 * MiB, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 4', 4 * MiB),
    stopsBy: head.length + 4 * MiB,
  });
});

test('CSV: many fields, each well under the limit, count together with their separators and quotes', async () => {
  const columns = 100;
  const header = `${Array.from({ length: columns }, (_, i) => `c${i}`).join(',')}\r\n`;
  // Quoted fields with a doubled quote and a CRLF inside: every byte between the line ends counts.
  const field = (length: number): string => `"${'z'.repeat(length)}""\r\n"`;
  const record = (last: number): string => [...Array.from({ length: columns - 1 }, () => field(40_000)), field(last)].join(',');
  const limit = Buffer.byteLength(record(40_000));

  const exact = await readCsv(await writeUpload(header, record(40_000), '\r\n', header), limit);
  assert.equal(exact.length, 2);
  assert.equal(exact[0]!.fields[0], `${'z'.repeat(40_000)}"\r\n`);
  assert.equal(exact[1]!.line, 2 + 1 + columns, 'after the line breaks inside the first record');

  await assertReadFails('csv', await writeUpload(header, record(40_001), '\r\n', header), limit, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 2', limit),
    stopsBy: header.length + limit,
  });
});

test('CSV: the record starting lines follow CR, LF and CRLF line ends, mixed', async () => {
  const limit = 1 * MiB;
  const head = 'a\r1\n2\r\n"3\r4\n5"\n';
  const ok = await readCsv(await writeUpload(head, filler(limit), '\n'), limit);
  assert.deepEqual(ok.map((record) => record.line), [2, 3, 4, 7]);
  await assertReadFails('csv', await writeUpload(head, filler(limit + 1), '\n'), limit, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 7', limit),
    stopsBy: head.length + limit,
  });
});

test('CSV: a quote right after a BOM opens a quoted field for the limit too', async () => {
  // Were the BOM taken for field text, the quote would be too, and each line of this field a record of its own.
  const file = await writeUpload('\ufeff"', `${'y'.repeat(999)}\n`.repeat(3 * 1024), '"\n1\n');
  await assertReadFails('csv', file, 1 * MiB, {
    code: 'record_too_large',
    message: tooLarge('the CSV record starting at line 1', 1 * MiB),
    stopsBy: 1 * MiB,
  });
});

test('CSV: a record of more fields than a dataset can have fails before they are built', async () => {
  const file = await writeUpload('a,b\n1,2\n', ','.repeat(10 * MiB), '\n');
  await assertReadFails('csv', file, 16 * MiB, {
    code: 'invalid_payload',
    message: /^line 3 of the CSV has more than 2000 fields, but the header has 2$/,
    stopsBy: 0,
  });
  const header = await writeUpload(`${Array.from({ length: 2001 }, (_, i) => `c${i}`).join(',')}\n1\n`);
  await assertReadFails('csv', header, 16 * MiB, {
    code: 'invalid_payload',
    message: /^the CSV header has more than 2000 columns; at most 2000 are supported$/,
    stopsBy: 0,
  });
});

test('NDJSON: a line of more distinct keys than a dataset can have columns fails; repeated keys do not count', async () => {
  const members = (count: number, distinct: number): string =>
    `{${Array.from({ length: count }, (_, i) => `"k${i % distinct}":${i}`).join(',')}}\n`;
  await assertReadFails('ndjson', await writeUpload('{"a":1}\n', members(3000, 3000)), 16 * MiB, {
    code: 'invalid_payload',
    message: /^line 2 of the NDJSON brings the number of keys over 2000$/,
    stopsBy: 0,
  });
  const repeated = await readNdjson(await writeUpload(members(50_000, 2)), 16 * MiB);
  assert.deepEqual(repeated[0]!.keys, ['k0', 'k1']);
  assert.deepEqual(
    repeated[0]!.values.map((value) => (value as { source: string }).source),
    ['49998', '49999'],
  );
});
