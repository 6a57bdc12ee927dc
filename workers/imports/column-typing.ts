// The first pass's bookkeeping of column types, shared by the CSV and NDJSON imports: inference where the client
// named no type, a check of every value where it did (`types=`).
import type { ColumnType, DatasetColumn } from '../../src/contracts/import-contract.js';
import { createTaskError } from '../../src/contracts/task-errors.js';
import { finalColumn, fitsForcedType, mergeKind, type CellKind, type InferredType } from '../uploads/type-inference.js';

export interface ColumnTyping {
  /** Per column: the type the client gave, or undefined to infer one. */
  readonly forced: (ColumnType | undefined)[];
  /** Per column: what the values seen so far make it (for forced timestamps: whether they carry a zone). */
  readonly inferred: InferredType[];
}

/** `columnTypes` names final column names; a name the upload does not have fails the import. */
export function createColumnTyping(names: readonly string[], columnTypes: readonly { name: string; type: ColumnType }[]): ColumnTyping {
  const positions = new Map(names.map((name, index) => [name, index]));
  const forced: (ColumnType | undefined)[] = names.map(() => undefined);
  const unknown = columnTypes.filter(({ name }) => !positions.has(name)).map(({ name }) => JSON.stringify(name));
  if (unknown.length > 0) {
    throw createTaskError('invalid_payload', `types names no column ${unknown.slice(0, 5).join(', ')}: the upload has no such column`);
  }
  for (const { name, type } of columnTypes) forced[positions.get(name)!] = type;
  return { forced, inferred: names.map(() => undefined) };
}

/** Records one value of column `index`; a value that does not fit a forced type fails the import here. */
export function observeCell(typing: ColumnTyping, names: readonly string[], index: number, kind: CellKind, line: number, value: unknown): void {
  const forced = typing.forced[index];
  if (forced === undefined) {
    typing.inferred[index] = mergeKind(typing.inferred[index], kind);
  } else if (forced !== 'text') {
    if (!fitsForcedType(forced, kind)) {
      const shown = JSON.stringify(sourceText(value).slice(0, 40));
      throw createTaskError('invalid_payload', `line ${line}: ${shown} in column ${JSON.stringify(names[index])} is not ${article(forced)} ${forced} (types=${names[index]}:${forced})`);
    }
    if (forced === 'timestamp') typing.inferred[index] = mergeKind(typing.inferred[index], kind);
  }
}

/** A CSV field or an NDJSON value as the upload wrote it (JsonNumber and JsonNested keep their source). */
function sourceText(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'source' in value) return String((value as { source: unknown }).source);
  return typeof value === 'string' ? value : String(value);
}

function article(type: ColumnType): string {
  return type === 'integer' ? 'an' : 'a';
}

/** The dataset's columns once every value was seen. */
export function finishColumnTyping(typing: ColumnTyping, names: readonly string[]): DatasetColumn[] {
  names.forEach((name, index) => {
    if (typing.forced[index] === 'timestamp' && typing.inferred[index] === 'text') {
      throw createTaskError('invalid_payload', `column ${JSON.stringify(name)} mixes timestamps with and without a zone offset, so types=${name}:timestamp cannot hold them`);
    }
  });
  return columnsSoFar(typing, names);
}

/**
 * The columns the values seen so far make, as finishColumnTyping would give them now (a forced timestamp column
 * that mixed zones is left to it to refuse at the end).
 */
export function columnsSoFar(typing: ColumnTyping, names: readonly string[]): DatasetColumn[] {
  return names.map((name, index) => {
    const forced = typing.forced[index];
    if (forced === undefined) return finalColumn(name, typing.inferred[index]);
    if (forced !== 'timestamp') return { name, type: forced };
    return { name, type: 'timestamp', timezone: typing.inferred[index] === 'timestamptz' ? 'UTC' : null };
  });
}
