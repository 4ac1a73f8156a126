import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { migrateToLatest } from './migrate.js'
import type { ChatMessagesTable, Database } from './schema.js'
import { SqlStore, toMessageRecord, type MessageAppender } from './sql-store.js'
import type { AppendResult, NewMessage } from './store.js'

export interface PostgresStoreOptions {
  url: string
  poolSize: number
  /** A schema of its own (created if missing); tests use one per app to stay apart. */
  schema?: string
  /** Sees every query with its parameters (tools that EXPLAIN what the store runs). */
  onQuery?: (sql: string, parameters: readonly unknown[]) => void
}

const INT8_OID = 20

/** PostgreSQL through `pg`: what several nodes share. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<SqlStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    // Fail fast while the database is down, so callers get a 503 rather than a hanging request.
    connectionTimeoutMillis: 3_000,
    ...(options.schema !== undefined && { options: `-c search_path=${options.schema}` }),
    // Timestamps and seqs are BIGINT; they stay far below 2^53, so plain numbers are exact.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? Number
          : (pg.types.getTypeParser(oid, format ?? 'text') as (
              value: string,
            ) => unknown)) as typeof pg.types.getTypeParser,
    },
  })
  // A connection lost while idle, or while checked out between two queries, is emitted as an
  // 'error' event; unheard, it would crash the process. The query in flight fails by itself.
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))

  const onQuery = options.onQuery
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery && {
      log: (event) => {
        if (event.level === 'query') onQuery(event.query.sql, event.query.parameters)
      },
    }),
  })
  try {
    if (options.schema !== undefined) {
      await sql`create schema if not exists ${sql.id(options.schema)}`.execute(db)
    }
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
    await migrateToLatest(db, rows[0]?.schema)
  } catch (error) {
    await db.destroy()
    throw error
  }
  return new SqlStore('postgres', db, new PostgresMessageAppender(pool, db), () => db.destroy())
}

type AppendRow = ChatMessagesTable & { outcome: 'stored' | 'duplicate' }

const UNIQUE_VIOLATION = '23505'

/**
 * Find an earlier send with the same `client_message_id`, check the reply target, bump the
 * session's `last_seq` (its row lock orders concurrent appends to one session, on every node) and
 * insert, all or nothing, in one statement.
 */
const APPEND_MESSAGE = `
  with existing as (
    select * from chat_messages
     where $12::text is not null and chat_session_id = $2 and sender_id = $3 and client_message_id = $12
  ), bumped as (
    update chat_sessions
       set last_seq = last_seq + 1,
           started_at = coalesce(started_at, $13::bigint),
           last_activity_at = $13::bigint
     where id = $2 and status = 'active'
       and not exists (select 1 from existing)
       and ($6::text is null or exists (
             select 1 from chat_messages where id = $6 and chat_session_id = $2))
    returning last_seq
  ), inserted as (
    insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content,
        reply_to_id, mentions, file_url, file_name, file_size, file_type, client_message_id,
        created_at)
    select $1, $2, bumped.last_seq, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11, $12, $13::bigint
      from bumped
    returning *
  )
  select 'stored' as outcome, inserted.* from inserted
  union all
  select 'duplicate' as outcome, existing.* from existing`

/**
 * One round trip per message: `APPEND_MESSAGE` as a named prepared statement, so each pooled
 * connection parses and plans it once.
 */
class PostgresMessageAppender implements MessageAppender {
  constructor(
    private readonly pool: pg.Pool,
    private readonly db: Kysely<Database>,
  ) {}

  async append(message: NewMessage): Promise<AppendResult> {
    try {
      return await this.#tryAppend(message)
    } catch (error) {
      // Two concurrent sends with one client_message_id: the loser sees the winner's row now.
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) return this.#tryAppend(message)
      throw error
    }
  }

  async #tryAppend(m: NewMessage): Promise<AppendResult> {
    const { rows } = await this.pool.query<AppendRow>({
      name: 'chat_append_message',
      text: APPEND_MESSAGE,
      values: [
        m.id,
        m.chat_session_id,
        m.sender_id,
        m.message_type,
        m.content,
        m.reply_to_id,
        m.mentions === null ? null : JSON.stringify(m.mentions),
        m.file_url,
        m.file_name,
        m.file_size,
        m.file_type,
        m.client_message_id,
        m.created_at,
      ],
    })
    const row = rows[0]
    if (row !== undefined) {
      const { outcome, ...message } = row
      return { outcome, message: toMessageRecord(message) }
    }
    return this.#whyNothingWasStored(m)
  }

  /** The cold path: the statement stored nothing, so find out which guard stopped it. */
  async #whyNothingWasStored(m: NewMessage): Promise<AppendResult> {
    const session = await this.db
      .selectFrom('chat_sessions')
      .select('status')
      .where('id', '=', m.chat_session_id)
      .executeTakeFirst()
    if (session === undefined) return { outcome: 'session_missing' }
    if (session.status !== 'active') return { outcome: 'session_closed' }
    return { outcome: 'reply_missing' }
  }
}
