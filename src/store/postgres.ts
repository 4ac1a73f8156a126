import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { Batches } from './batches.js'
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
  const pool = createPool(options, options.poolSize)
  // The appends run on connections of their own that plan their two statements once: planning
  // the batch statement anew costs more than running it (0.6 ms of a 1.1 ms batch of three), and
  // both are written so that any plan, even one made while the tables were empty, probes indexes.
  const appendPool = createPool(options, MAX_BATCHES_IN_FLIGHT, [
    'plan_cache_mode=force_generic_plan',
  ])
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
    await Promise.all([db.destroy(), appendPool.end()])
    throw error
  }
  return new SqlStore('postgres', db, new PostgresMessageAppender(appendPool, db), async () => {
    // Closing twice is fine, as it is for Kysely (tests close a store under a running app).
    await Promise.all([db.destroy(), appendPool.ended ? undefined : appendPool.end()])
  })
}

function createPool(options: PostgresStoreOptions, max: number, settings: string[] = []): pg.Pool {
  const startup = [
    ...(options.schema === undefined ? [] : [`search_path=${options.schema}`]),
    ...settings,
  ]
  const pool = new pg.Pool({
    connectionString: options.url,
    max,
    // Fail fast while the database is down, so callers get a 503 rather than a hanging request.
    connectionTimeoutMillis: 3_000,
    ...(startup.length > 0 && { options: startup.map((setting) => `-c ${setting}`).join(' ') }),
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
  return pool
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
       set last_seq = last_seq + 1
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
 * Many messages in one statement, the same steps as `APPEND_MESSAGE` for each: earlier sends with
 * the same `client_message_id` come back as they are (a repeat within the batch is answered by the
 * caller), sessions are locked in id order (so two batches never deadlock), each session's
 * `last_seq` grows by its count, and the messages take the numbers in between in batch order.
 *
 * No step joins two of these lists to each other: a generic plan expects one row from each and
 * joins them in nested loops, which cost batch size squared (3 ms of a 7 ms batch of 50, and the
 * batches grow with the load). Windows number the messages, the sessions' new counts are looked up
 * in one `jsonb` object, and stored rows come back without their position (the caller has the ids).
 */
const APPEND_BATCH = `
  with input as (
    select i.*, min(i.n) over (partition by i.chat_session_id, i.sender_id, i.client_message_id)
             as first_n
      from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::bigint[])
      with ordinality as i(id, chat_session_id, sender_id, message_type, content, reply_to_id,
        mentions, file_url, file_name, file_size, file_type, client_message_id, created_at, n)
  ), existing as (
    select i.n, m.* from input i cross join lateral (
      select * from chat_messages m
       where m.chat_session_id = i.chat_session_id and m.sender_id = i.sender_id
         and m.client_message_id = i.client_message_id
       limit 1) m
  ), candidates as (
    select i.*, row_number() over (partition by i.chat_session_id order by i.n) as k
      from input i
     where not exists (select 1 from existing e where e.n = i.n)
       and (i.client_message_id is null or i.n = i.first_n)
       and (i.reply_to_id is null or i.chat_session_id = (
             select r.chat_session_id from chat_messages r where r.id = i.reply_to_id limit 1))
  ), counts as (
    select chat_session_id, count(*) as added
      from candidates group by chat_session_id
  ), locked as (
    select l.id from (select chat_session_id from counts order by chat_session_id) c
     cross join lateral (
       select s.id from chat_sessions s
        where s.id = c.chat_session_id and s.status = 'active'
          for update) l
  ), bumped as (
    update chat_sessions s
       set last_seq = s.last_seq + c.added
      from counts c
     where s.id = c.chat_session_id and s.status = 'active'
       -- Always true: it runs \`locked\` first, so the rows are locked in id order before this.
       and (select count(*) from locked) >= 0
    returning s.id, s.last_seq - c.added as base
  ), bases as materialized (
    select jsonb_object_agg(id, base) as of_session from bumped
  ), inserted as (
    insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content,
        reply_to_id, mentions, file_url, file_name, file_size, file_type, client_message_id,
        created_at)
    select c.id, c.chat_session_id, (b.of_session ->> c.chat_session_id)::bigint + c.k,
        c.sender_id, c.message_type, c.content, c.reply_to_id, c.mentions, c.file_url,
        c.file_name, c.file_size, c.file_type, c.client_message_id, c.created_at
      from candidates c cross join bases b
     where b.of_session ? c.chat_session_id
    returning *
  )
  select 'stored' as outcome, null::bigint as n, inserted.* from inserted
  union all
  select 'duplicate' as outcome, existing.* from existing`

/** `n`: a duplicate's position in the batch (from 1); null for a stored row, known by its id. */
type BatchRow = AppendRow & { n: number | null }

interface PendingAppend {
  message: NewMessage
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/** Batches in flight at once: enough to keep the database busy, few enough for batches to grow. */
const MAX_BATCHES_IN_FLIGHT = 4

/**
 * Group commit for PostgreSQL: appends that arrive together are stored by one statement in one
 * transaction (`APPEND_BATCH`), so the database writes and flushes its log once per batch rather
 * than once per message. While the batches in flight are busy the next one gathers, so batches
 * grow with the load. A batch that fails as a whole is stored again message by message with
 * `APPEND_MESSAGE`, so only the message at fault fails.
 */
class PostgresMessageAppender implements MessageAppender {
  readonly #batches = new Batches<PendingAppend>(MAX_BATCHES_IN_FLIGHT, (batch) =>
    this.#store(batch),
  )

  constructor(
    private readonly pool: pg.Pool,
    private readonly db: Kysely<Database>,
  ) {}

  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => this.#batches.add({ message, resolve, reject }))
  }

  async #store(batch: PendingAppend[]): Promise<void> {
    let results: AppendResult[]
    try {
      results =
        batch.length === 1
          ? [await this.#appendOne(batch[0]!.message)]
          : await this.#appendMany(batch)
    } catch {
      // One message broke the batch (a constraint, two nodes storing one client_message_id at
      // once): store each alone, so only that one fails.
      await Promise.all(
        batch.map((pending) =>
          this.#appendOne(pending.message).then(pending.resolve, pending.reject),
        ),
      )
      return
    }
    batch.forEach((pending, i) => pending.resolve(results[i]!))
  }

  async #appendMany(batch: PendingAppend[]): Promise<AppendResult[]> {
    const column = <K extends keyof NewMessage>(key: K) =>
      batch.map((pending) => pending.message[key])
    const { rows } = await this.pool.query<BatchRow>({
      name: 'chat_append_batch',
      text: APPEND_BATCH,
      values: [
        column('id'),
        column('chat_session_id'),
        column('sender_id'),
        column('message_type'),
        column('content'),
        column('reply_to_id'),
        batch.map(({ message }) =>
          message.mentions === null ? null : JSON.stringify(message.mentions),
        ),
        column('file_url'),
        column('file_name'),
        column('file_size'),
        column('file_type'),
        column('client_message_id'),
        column('created_at'),
      ],
    })
    const positionOf = new Map(batch.map(({ message }, i) => [message.id, i + 1]))
    const byPosition = new Map<number, AppendResult>()
    for (const row of rows) {
      const position = row.n === null ? positionOf.get(row.id)! : Number(row.n)
      byPosition.set(position, { outcome: row.outcome, message: toMessageRecord(row) })
    }
    const results: AppendResult[] = []
    for (const [i, { message }] of batch.entries()) {
      const result = byPosition.get(i + 1) ?? this.#repeatInBatch(message, byPosition, batch)
      results.push(result ?? (await this.#whyNothingWasStored(message)))
    }
    return results
  }

  /** A second send of one `client_message_id` in the same batch: the first one's message. */
  #repeatInBatch(
    message: NewMessage,
    stored: Map<number, AppendResult>,
    batch: PendingAppend[],
  ): AppendResult | undefined {
    if (message.client_message_id === null) return undefined
    const first = batch.findIndex(
      ({ message: other }) =>
        other.chat_session_id === message.chat_session_id &&
        other.sender_id === message.sender_id &&
        other.client_message_id === message.client_message_id,
    )
    const result = stored.get(first + 1)
    return result !== undefined && 'message' in result
      ? { outcome: 'duplicate', message: result.message }
      : undefined
  }

  /** One message, one statement: the path for a batch of one and the fallback for a failed batch. */
  async #appendOne(message: NewMessage): Promise<AppendResult> {
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
      return { outcome: row.outcome, message: toMessageRecord(row) }
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
