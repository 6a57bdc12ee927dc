import postgres, { type Sql } from 'postgres';
import type { Durability } from './open-database.js';

export type { Sql } from 'postgres';

/** OID of PostgreSQL's bigint (int8). */
const INT8 = 20;

/**
 * A pool of connections to `url` (postgres.js opens them lazily, up to `max`, and pipelines queries on each).
 * bigint columns — times in epoch ms, sequence numbers, counts — are read as numbers: every one of them is below
 * 2^53 (epoch ms stay so until the year 287396).
 */
export function openPostgres(url: string, { max = 10, durability = 'full' }: { max?: number; durability?: Durability } = {}): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    // `normal` durability, as on SQLite, is "a commit survives a crash of this process": on PostgreSQL the commit
    // is then in the server, which need not wait for its WAL flush (synchronous_commit off: a crash of the database
    // server itself may lose the last few hundred ms of commits, never corrupt). `full` keeps the server's own
    // setting (on by default: flushed before the commit returns, so before any 202).
    connection: { application_name: 'offload', ...(durability === 'normal' ? { synchronous_commit: 'off' } : {}) },
    types: { int8AsNumber: { to: INT8, from: [INT8], serialize: (value: number | bigint) => String(value), parse: (text: string) => Number(text) } },
  });
}

/** Runs a statement whose @name parameters are taken from `params` (a missing one is NULL), as a prepared statement. */
export async function runSql<Row = Record<string, unknown>>(sql: Sql, statement: PreparedSql, params: Record<string, unknown> = {}): Promise<Row[]> {
  const values = statement.names.map((name) => params[name] ?? null);
  // postgres.js answers an array subclass carrying the command's metadata; callers get a plain array.
  return Array.from(await sql.unsafe(statement.text, values as never[], { prepare: true })) as Row[];
}

/** Runs a write and returns how many rows it changed. */
export async function runSqlCount(sql: Sql, statement: PreparedSql, params: Record<string, unknown> = {}): Promise<number> {
  const values = statement.names.map((name) => params[name] ?? null);
  return (await sql.unsafe(statement.text, values as never[], { prepare: true })).count;
}

/** A URL to show in logs and errors: the password replaced. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

export interface PreparedSql {
  text: string;
  /** The parameter names, in $1, $2, … order. */
  names: readonly string[];
}

/** Turns `@name` parameters into `$n`: each name gets one number, however often it appears. */
export function numberParameters(text: string): PreparedSql {
  const names: string[] = [];
  const numbered = text.replace(/@([a-z_]+)/g, (_, name: string) => {
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return { text: numbered, names };
}

/** Each statement of `statements` with its parameters numbered. */
export function prepareNamedSql<Name extends string>(statements: Record<Name, string>): Readonly<Record<Name, PreparedSql>> {
  return Object.freeze(Object.fromEntries(Object.entries<string>(statements).map(([name, text]) => [name, numberParameters(text)])) as Record<Name, PreparedSql>);
}
