// The small encoding rules the formats share, pinned one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReal } from '../workers/formats/number-text.js';
import { quoteCsvField } from '../workers/formats/csv.js';
import { escapeXlsxText, unescapeXlsxText } from '../workers/formats/xlsx.js';

test('reals print the shortest round-trip form, with .0 when whole', () => {
  assert.equal(formatReal(6100), '6100.0');
  assert.equal(formatReal(-2), '-2.0');
  assert.equal(formatReal(0.1), '0.1');
  assert.equal(formatReal(1e21), '1e+21');
  assert.equal(formatReal(5e-324), '5e-324');
  assert.equal(formatReal(1.7976931348623157e308), '1.7976931348623157e+308');
  for (const value of [0.1, 1 / 3, -2.5e-8, 123456.789, 2 ** 53 + 2]) assert.equal(Number(formatReal(value)), value);
});

test('CSV fields are quoted only when they must be, and the empty string always', () => {
  assert.equal(quoteCsvField('plain'), 'plain');
  assert.equal(quoteCsvField(''), '""');
  assert.equal(quoteCsvField('a,b'), '"a,b"');
  assert.equal(quoteCsvField('say "hi"'), '"say ""hi"""');
  assert.equal(quoteCsvField('two\nlines'), '"two\nlines"');
  assert.equal(quoteCsvField('cr\r'), '"cr\r"');
  assert.equal(quoteCsvField(' =1+1 '), ' =1+1 ');
});

test('XLSX text escapes what XML cannot carry, ST_Xstring style, and the escape reverses it', () => {
  assert.equal(escapeXlsxText('a\r\nb\tc'), 'a_x000D_\nb\tc');
  assert.equal(escapeXlsxText('\x01\x1f\x7f'), '_x0001__x001F__x007F_');
  assert.equal(escapeXlsxText('_x0041_ and _x00'), '_x005F_x0041_ and _x00');
  assert.equal(escapeXlsxText('\ufffe'), '_xFFFE_');
  const nasty = 'x\r\n\x00\x08\x0b\x0c_x0041__X0041_ _x005F_x0041_ 😀';
  assert.equal(unescapeXlsxText(escapeXlsxText(nasty)), nasty);
});
