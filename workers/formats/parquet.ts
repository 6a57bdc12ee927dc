// Parquet through hyparquet-writer's ParquetWriter, one row group at a time: rows are gathered column by column
// until a row group is full (10,000 rows, or fewer once its text passes 4 M characters), then encoded, compressed
// (Snappy) and written. Memory is bounded by one row group, not by the dataset. Row groups are small for Parquet:
// measured on 1M rows × 8 columns, 100,000-row groups peaked at 460 MB RSS and ran slower than 10,000-row groups
// (~200 MB); readers handle many row groups well, a worker with a 512 MB heap does not handle big ones.
// - Column types are kept: integer → INT64, real → DOUBLE, boolean → BOOLEAN, text → BYTE_ARRAY with the UTF8
//   (STRING) annotation; every column is OPTIONAL and null is a real Parquet null.
// - Column names are the dataset's, exactly.
import type { Writable } from 'node:stream';
import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { CellValue, ColumnType, DatasetColumn } from '../datasets/dataset-file.js';
import type { FormatModule, FormatWriter } from './format.js';
import { waitForDrain } from './output-buffer.js';

const ROW_GROUP_ROWS = 10_000;
const ROW_GROUP_TEXT_CHARS = 4 * 1024 * 1024;

const SCHEMA_TYPE: Record<ColumnType, Omit<SchemaElement, 'name'>> = {
  integer: { type: 'INT64', repetition_type: 'OPTIONAL' },
  real: { type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  boolean: { type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
  text: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' },
};

/**
 * hyparquet-writer encodes into a growable buffer and calls flush() after each row group; this one moves the
 * bytes into the stream there and makes the writer wait for 'drain'.
 */
class StreamByteWriter extends ByteWriter {
  constructor(private readonly out: Writable) {
    super(1024 * 1024);
  }

  flush(): Promise<void> | undefined {
    if (this.index === 0) return undefined;
    // Copied: the buffer is reused for the next row group.
    const chunk = Buffer.from(this.buffer.slice(0, this.index));
    this.index = 0;
    return this.out.write(chunk) ? undefined : waitForDrain(this.out);
  }

  override finish(): Promise<void> | undefined {
    return this.flush();
  }
}

export const parquetFormat: FormatModule = {
  createWriter(columns: readonly DatasetColumn[], out: Writable): FormatWriter {
    const schema: SchemaElement[] = [
      { name: 'root', num_children: columns.length },
      ...columns.map((column) => ({ name: column.name, ...SCHEMA_TYPE[column.type] })),
    ];
    const writer = new ParquetWriter({ writer: new StreamByteWriter(out), schema, createdBy: 'offload' });
    const textPositions = columns.flatMap((column, i) => (column.type === 'text' ? [i] : []));
    const integerPositions = columns.flatMap((column, i) => (column.type === 'integer' ? [i] : []));
    let group: (CellValue | bigint)[][] = columns.map(() => []);
    let groupRows = 0;
    let groupTextChars = 0;

    const writeGroup = async (): Promise<void> => {
      if (groupRows === 0) return;
      const columnData = columns.map((column, i) => ({ name: column.name, data: group[i]! }));
      group = columns.map(() => []);
      groupRows = 0;
      groupTextChars = 0;
      await writer.write({ columnData, rowGroupSize: Number.MAX_SAFE_INTEGER });
    };

    return {
      async writeRows(rows) {
        for (const row of rows) {
          for (let i = 0; i < row.length; i++) group[i]!.push(row[i]!);
          // hyparquet-writer takes INT64 values as BigInt only.
          for (const i of integerPositions) {
            const value = row[i];
            if (value !== null) group[i]![groupRows] = BigInt(value as number);
          }
          for (const i of textPositions) {
            const value = row[i];
            if (typeof value === 'string') groupTextChars += value.length;
          }
          groupRows++;
          if (groupRows >= ROW_GROUP_ROWS || groupTextChars >= ROW_GROUP_TEXT_CHARS) await writeGroup();
        }
      },
      async end() {
        await writeGroup();
        await writer.finish();
        out.end();
      },
    };
  },
};
