// Parquet through hyparquet-writer's ParquetWriter, one row group at a time: rows are gathered column by column
// until a row group is full, then encoded, compressed and written. A row group closes at ROW_GROUP_MAX_ROWS rows
// or once its values pass ROW_GROUP_MAX_BYTES (estimated before encoding), whichever comes first: memory is bounded
// by one row group, not by the dataset, and a many-million-row file has a handful of groups and a small footer.
// - Types, repetition and codecs: parquet-schema.ts. Column names are the dataset's, exactly.
// - `created_by` names offload's version and hyparquet-writer's (readers use it to recognise a writer's known bugs).
// - Min/max statistics of text are kept whole up to STATISTICS_MAX_BYTES, beyond that cut (and marked inexact).
import type { Writable } from 'node:stream';
import { ByteWriter, ParquetWriter, type ColumnSource } from 'hyparquet-writer';
import type { CellValue } from '../datasets/dataset-file.js';
import type { ExportColumn, FormatModule, FormatWriter, WriterOptions } from './format.js';
import { waitForDrain } from './output-buffer.js';
import { CODEC_NAMES, compressorsFor, estimatedBytes, schemaElement, valueConverter } from './parquet-schema.js';

/** pyarrow's default row-group length. */
export const ROW_GROUP_MAX_ROWS = 1024 * 1024;
/** Values of one row group, estimated before encoding; see the Design notes for why not 128 MB. */
export const ROW_GROUP_MAX_BYTES = 16 * 1024 * 1024;
export const STATISTICS_MAX_BYTES = 256;
/** The version in node_modules/hyparquet-writer/package.json; test/parquet-layout.test.ts keeps them equal. */
export const HYPARQUET_WRITER_VERSION = '0.17.0';

/**
 * hyparquet-writer encodes into a growable buffer and calls flush() after each row group; this one hands the
 * bytes to the stream there, makes the writer wait for 'drain', and starts a fresh small buffer, so the largest
 * row group's buffer is not kept for the rest of the export.
 */
class StreamByteWriter extends ByteWriter {
  constructor(private readonly out: Writable) {
    super(INITIAL_BUFFER_BYTES);
  }

  flush(): Promise<void> | undefined {
    if (this.index === 0) return undefined;
    const chunk = Buffer.from(this.buffer, 0, this.index);
    this.buffer = new ArrayBuffer(INITIAL_BUFFER_BYTES);
    this.view = new DataView(this.buffer);
    this.index = 0;
    return this.out.write(chunk) ? undefined : waitForDrain(this.out);
  }

  override finish(): Promise<void> | undefined {
    return this.flush();
  }
}

const INITIAL_BUFFER_BYTES = 1024 * 1024;

export const parquetFormat: FormatModule = {
  createWriter: (columns, out, options) => createParquetWriter(columns, out, options),
};

/** `limits` lower the row-group bounds for tests. */
export function createParquetWriter(
  columns: readonly ExportColumn[],
  out: Writable,
  options: WriterOptions,
  limits: { maxRows?: number; maxBytes?: number } = {},
): FormatWriter {
  const { maxRows = ROW_GROUP_MAX_ROWS, maxBytes = ROW_GROUP_MAX_BYTES } = limits;
  const writer = new ParquetWriter({
    writer: new StreamByteWriter(out),
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map(schemaElement)],
    codec: CODEC_NAMES[options.parquetCodec],
    compressors: compressorsFor(options.parquetCodec),
    statisticsTruncateLength: STATISTICS_MAX_BYTES,
    createdBy: `${options.producer} (hyparquet-writer ${HYPARQUET_WRITER_VERSION})`,
  });
  const converters = columns.map((column) => valueConverter(column.type));
  const sizes = columns.map((column) => estimatedBytes(column.type));
  const fixedRowBytes = sizes.reduce<number>((sum, size) => sum + (typeof size === 'number' ? size : 0), 0);
  const variable = sizes.flatMap((size, i) => (typeof size === 'function' ? [{ i, size }] : []));
  const converted = converters.flatMap((convert, i) => (convert ? [{ i, convert }] : []));
  let group: (CellValue | bigint)[][] = columns.map(() => []);
  let groupRows = 0;
  let groupBytes = 0;

  const writeGroup = async (): Promise<void> => {
    if (groupRows === 0) return;
    const columnData: ColumnSource[] = columns.map((column, i) => ({
      name: column.name,
      data: group[i]!,
      ...(column.type === 'json' ? { statistics: false } : {}),
    }));
    group = columns.map(() => []);
    groupRows = 0;
    groupBytes = 0;
    await writer.write({ columnData, rowGroupSize: Number.MAX_SAFE_INTEGER });
  };

  return {
    async writeRows(rows) {
      for (const row of rows) {
        for (let i = 0; i < row.length; i++) group[i]!.push(row[i]!);
        for (const { i, convert } of converted) group[i]![groupRows] = convert(row[i]!);
        groupBytes += fixedRowBytes;
        for (const { i, size } of variable) groupBytes += size(row[i]!);
        groupRows++;
        if (groupRows >= maxRows || groupBytes >= maxBytes) await writeGroup();
      }
    },
    async end() {
      await writeGroup();
      await writer.finish();
      out.end();
    },
  };
}
