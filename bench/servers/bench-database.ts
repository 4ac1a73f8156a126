import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'

export type DatabaseKind = 'sqlite' | 'postgres'

/** How reports and progress lines name each database. */
export const DATABASE_NAMES: Record<DatabaseKind, string> = {
  sqlite: 'SQLite',
  postgres: 'PostgreSQL',
}

/**
 * A database of its own for one server run: a fresh SQLite file, or a fresh PostgreSQL schema
 * (created here, since the server migrates into its `search_path` but does not create it).
 */
export type BenchDatabase =
  | { kind: 'sqlite'; url: string; file: string; dispose(): Promise<void> }
  | { kind: 'postgres'; url: string; baseUrl: string; schema: string; dispose(): Promise<void> }

/**
 * What PostgreSQL has done since it started, as its own statistics count it, over every database:
 * read around a window, the difference is what the server under test made it do, since only one
 * runs at a time (a checkpoint or autovacuum in the window adds theirs).
 */
export interface PostgresWork {
  commits: number
  rowsUpdated: number
  /** Records written to the write-ahead log (`pg_stat_wal`), and their bytes. */
  walRecords: number
  walBytes: number
}

/** Undefined when PostgreSQL cannot say (no `pg_stat_wal` before PostgreSQL 14, or unreachable). */
export async function readPostgresWork(url: string): Promise<PostgresWork | undefined> {
  try {
    const { rows } = await withPostgres(url, (client) =>
      client.query<Record<keyof PostgresWork, string>>(
        `select (select sum(xact_commit) from pg_stat_database) as "commits",
                (select sum(tup_updated) from pg_stat_database) as "rowsUpdated",
                wal_records as "walRecords", wal_bytes as "walBytes"
           from pg_stat_wal`,
      ),
    )
    const row = rows[0]
    if (row === undefined) return undefined
    return {
      commits: Number(row.commits),
      rowsUpdated: Number(row.rowsUpdated),
      walRecords: Number(row.walRecords),
      walBytes: Number(row.walBytes),
    }
  } catch {
    // These figures only add to a window's account; the window stands without them.
    return undefined
  }
}

/** What PostgreSQL did between two reads; undefined unless both were read. */
export function postgresWorkSince(
  before: PostgresWork | undefined,
  after: PostgresWork | undefined,
): PostgresWork | undefined {
  if (before === undefined || after === undefined) return undefined
  return {
    commits: after.commits - before.commits,
    rowsUpdated: after.rowsUpdated - before.rowsUpdated,
    walRecords: after.walRecords - before.walRecords,
    walBytes: after.walBytes - before.walBytes,
  }
}

export async function createBenchDatabase(
  kind: DatabaseKind,
  options: { workDir: string; postgresUrl: string },
): Promise<BenchDatabase> {
  if (kind === 'sqlite') {
    const file = path.join(options.workDir, `chat-${randomBytes(4).toString('hex')}.db`)
    return { kind, url: `sqlite:${file}`, file, dispose: async () => undefined }
  }
  const schema = `bench_${randomBytes(6).toString('hex')}`
  await withPostgres(options.postgresUrl, (client) => client.query(`create schema ${schema}`))
  return {
    kind,
    url: postgresUrlWithSchema(options.postgresUrl, schema),
    baseUrl: options.postgresUrl,
    schema,
    dispose: async () => {
      await withPostgres(options.postgresUrl, (client) =>
        client.query(`drop schema if exists ${schema} cascade`),
      )
    },
  }
}

/** The server's DATABASE_URL: libpq's `options` sets the schema every connection works in. */
export function postgresUrlWithSchema(baseUrl: string, schema: string): string {
  const separator = baseUrl.includes('?') ? '&' : '?'
  return `${baseUrl}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`
}

export async function withPostgres<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Whether PostgreSQL answers at `url` (the bench skips its rows, saying why, when it does not). */
export async function isPostgresReachable(url: string): Promise<string | undefined> {
  try {
    await withPostgres(url, (client) => client.query('select 1'))
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}
