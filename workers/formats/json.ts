// JSON: one array of row objects, one object per line, UTF-8 without BOM; an empty dataset is `[]`.
// Values: see json-values.ts.
import type { Writable } from 'node:stream';
import type { DatasetColumn } from '../datasets/dataset-file.js';
import type { FormatModule, FormatWriter } from './format.js';
import { createOutputBuffer } from './output-buffer.js';
import { createObjectEncoder } from './json-values.js';

export const jsonFormat: FormatModule = {
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter {
    const encode = createObjectEncoder(columns);
    const output = createOutputBuffer(out);
    let separator = '[\n';
    return {
      async writeRows(rows) {
        let text = '';
        for (const row of rows) {
          text += separator + encode(row);
          separator = ',\n';
        }
        output.append(text);
        await output.flushIfFull();
      },
      async end() {
        output.append(separator === '[\n' ? '[]\n' : '\n]\n');
        await output.end();
      },
    };
  },
};
