// NDJSON: one JSON object per line, LF-terminated, UTF-8 without BOM. Values: see json-values.ts.
import type { Writable } from 'node:stream';
import type { DatasetColumn } from '../datasets/dataset-file.js';
import type { FormatModule, FormatWriter } from './format.js';
import { createOutputBuffer } from './output-buffer.js';
import { createObjectEncoder } from './json-values.js';

export const ndjsonFormat: FormatModule = {
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter {
    const encode = createObjectEncoder(columns);
    const output = createOutputBuffer(out);
    return {
      async writeRows(rows) {
        let text = '';
        for (const row of rows) text += `${encode(row)}\n`;
        output.append(text);
        await output.flushIfFull();
      },
      end: () => output.end(),
    };
  },
};
