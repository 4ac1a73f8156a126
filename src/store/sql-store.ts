import { sql, type Kysely, type RawBuilder, type Selectable, type Transaction } from 'kysely'
import { MarksBehind } from './marks-behind.js'
import type { ChatMessagesTable, ChatSessionsTable, Database } from './schema.js'
import {
  messageRecord,
  type AppendResult,
  type DeliveryMark,
  type BlockRecord,
  type BlockStore,
  type HistoryQuery,
  type MessageRecord,
  type MessageStore,
  type NewMessage,
  type ParticipantRecord,
  type ParticipantStore,
  type SessionListQuery,
  type SessionRecord,
  type SessionStore,
  type Store,
  type UserRecord,
  type UserStore,
} from './store.js'

/** The hot path, written per dialect: see `SqliteMessageAppender` and `PostgresMessageAppender`. */
export interface MessageAppender {
  append(message: NewMessage): Promise<AppendResult>
}

type Db = Kysely<Database> | Transaction<Database>

/** A session's newest activity, for the lists' order. */
interface ActivityMark {
  sessionId: string
  at: number
}

/**
 * The one Kysely implementation of `Store` that SQLite and PostgreSQL share. Dialect setup lives in
 * `sqlite.ts` and `postgres.ts`; they hand in the message appender and a close function.
 */
export class SqlStore implements Store {
  readonly users: UserStore
  readonly sessions: SessionStore
  readonly participants: ParticipantStore
  readonly messages: MessageStore
  readonly blocks: BlockStore

  /**
   * Sessions' `last_activity_at`, written behind the appends: it is indexed for the lists' order,
   * and moving its index entry with every message cost more than the rest of the session's update.
   * Lists flush it first, so on one node they always see the newest activity; on several nodes, a
   * list may trail another node's messages by up to a second.
   */
  readonly #activity: MarksBehind<ActivityMark>

  constructor(
    readonly dialect: 'sqlite' | 'postgres',
    private readonly db: Db,
    private readonly appender: MessageAppender,
    private readonly onClose: () => Promise<void>,
    activity?: MarksBehind<ActivityMark>,
  ) {
    this.#activity =
      activity ??
      new MarksBehind({
        level: (mark) => mark.at,
        write: (marks) => recordActivity(db, dialect, marks),
        // Kept and written again next time; a list meanwhile queries the same database and
        // reports its failure itself.
        onWriteError: () => undefined,
      })
    this.users = new SqlUserStore(db)
    this.sessions = new SqlSessionStore(db, this.#activity)
    this.participants = new SqlParticipantStore(db, dialect)
    this.messages = new SqlMessageStore(db, appender, this.#activity)
    this.blocks = new SqlBlockStore(db)
  }

  async transaction<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this)
    return this.db
      .transaction()
      .execute((trx) =>
        fn(new SqlStore(this.dialect, trx, this.appender, this.onClose, this.#activity)),
      )
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  async close(): Promise<void> {
    await this.#activity.close()
    await this.onClose()
  }
}

async function recordActivity(
  db: Db,
  dialect: SqlStore['dialect'],
  marks: ActivityMark[],
): Promise<void> {
  const activity = columnsTable(dialect, [
    ['text', marks.map((mark) => mark.sessionId)],
    ['bigint', marks.map((mark) => mark.at)],
  ])
  // PostgreSQL locks the rows in id order first, as appends do: locked in the join's order, two
  // of these statements and an append could each hold a row another waits for.
  const lockedInOrder =
    dialect === 'postgres'
      ? sql`and (select count(*) from (
              select s.id from chat_sessions s join activity a on a.session_id = s.id
               where s.last_activity_at < a.at
               order by s.id
                 for update of s) locked) >= 0`
      : sql``
  await sql`
    with activity (session_id, at) as (${activity})
    update chat_sessions set last_activity_at = activity.at
      from activity
     where chat_sessions.id = activity.session_id
       and chat_sessions.last_activity_at < activity.at
       ${lockedInOrder}
  `.execute(db)
}

/**
 * Rows for a bulk statement, passed as one parameter per column (PostgreSQL arrays) or as one JSON
 * text (SQLite), never one parameter per value: the statement's text stays the same however many
 * rows there are, so it is compiled and prepared once. Building a statement of a few hundred rows
 * value by value took milliseconds of the event loop, once a second, in the middle of the traffic.
 */
function columnsTable(
  dialect: SqlStore['dialect'],
  columns: Array<['text', string[]] | ['bigint', number[]]>,
): RawBuilder<unknown> {
  if (dialect === 'postgres') {
    const arrays = columns.map(([type, values]) => sql`${values}::${sql.raw(type)}[]`)
    return sql`select * from unnest(${sql.join(arrays)})`
  }
  const rows = columns[0]![1].map((_, row) => columns.map(([, values]) => values[row]))
  const fields = columns.map((_, column) => sql`value ->> ${sql.lit(column)}`)
  return sql`select ${sql.join(fields)} from json_each(${JSON.stringify(rows)})`
}

class SqlUserStore implements UserStore {
  constructor(private readonly db: Db) {}

  async insert(user: UserRecord): Promise<void> {
    await this.db.insertInto('users').values(user).execute()
  }

  findById(id: string): Promise<UserRecord | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
  }

  async findManyByIds(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return []
    return this.db.selectFrom('users').selectAll().where('id', 'in', ids).execute()
  }

  findByEmail(email: string): Promise<UserRecord | undefined> {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('email', '=', email.toLowerCase())
      .executeTakeFirst()
  }

  findByExternalIdentity(issuer: string, subject: string): Promise<UserRecord | undefined> {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('external_issuer', '=', issuer)
      .where('external_subject', '=', subject)
      .executeTakeFirst()
  }
}

class SqlSessionStore implements SessionStore {
  constructor(
    private readonly db: Db,
    private readonly activity: MarksBehind<ActivityMark>,
  ) {}

  /**
   * Lists read the newest activity first. Not from inside a transaction: the write goes through
   * the store's own connection, which on SQLite that transaction is holding.
   */
  async #flushActivity(): Promise<void> {
    if (!this.db.isTransaction) await this.activity.flush()
  }

  async insert(session: SessionRecord): Promise<void> {
    // Only the row: its figures are its messages', and a new session's are those of none.
    await this.db.insertInto('chat_sessions').values(sessionRow(session)).execute()
  }

  findById(id: string): Promise<SessionRecord | undefined> {
    return selectSessions(this.db).where('s.id', '=', id).executeTakeFirst()
  }

  async update(
    id: string,
    patch: Partial<Pick<SessionRecord, 'title' | 'assigned_agent_id'>>,
  ): Promise<void> {
    if (Object.keys(patch).length === 0) return
    await this.db.updateTable('chat_sessions').set(patch).where('id', '=', id).execute()
  }

  async claim(id: string, agentId: string): Promise<boolean> {
    const result = await this.db
      .updateTable('chat_sessions')
      .set({ assigned_agent_id: agentId })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .where('assigned_agent_id', 'is', null)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  async close(id: string, closedBy: string, closedAt: number): Promise<boolean> {
    const result = await this.db
      .updateTable('chat_sessions')
      .set({ status: 'closed', closed_at: closedAt, closed_by: closedBy })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  async listForParticipant(userId: string, query: SessionListQuery): Promise<SessionRecord[]> {
    await this.#flushActivity()
    let select = selectSessions(this.db)
      .innerJoin('chat_participants as p', 'p.chat_session_id', 's.id')
      .where('p.user_id', '=', userId)
      .where('p.left_at', 'is', null)
    if (query.status !== undefined) select = select.where('s.status', '=', query.status)
    return select
      .orderBy('s.last_activity_at', 'desc')
      .orderBy('s.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute()
  }

  async listAll(query: SessionListQuery): Promise<SessionRecord[]> {
    await this.#flushActivity()
    let select = selectSessions(this.db)
    if (query.status !== undefined) select = select.where('s.status', '=', query.status)
    return select
      .orderBy('s.last_activity_at', 'desc')
      .orderBy('s.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute()
  }

  async listUnassigned(query: Omit<SessionListQuery, 'status'>): Promise<SessionRecord[]> {
    await this.#flushActivity()
    return selectSessions(this.db)
      .where('s.status', '=', 'active')
      .where('s.assigned_agent_id', 'is', null)
      .orderBy('s.last_activity_at', 'desc')
      .orderBy('s.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute()
  }
}

class SqlParticipantStore implements ParticipantStore {
  constructor(
    private readonly db: Db,
    private readonly dialect: SqlStore['dialect'],
  ) {}

  async add(
    participant: ParticipantRecord,
  ): Promise<{ participant: ParticipantRecord; added: boolean }> {
    const result = await this.db
      .insertInto('chat_participants')
      .values(participant)
      .onConflict((oc) => oc.columns(['chat_session_id', 'user_id']).doNothing())
      .executeTakeFirst()
    const added = (result.numInsertedOrUpdatedRows ?? 0n) > 0n
    if (added) return { participant, added }
    const existing = await this.find(participant.chat_session_id, participant.user_id)
    if (existing === undefined) throw new Error('participant vanished after a conflicting insert')
    return { participant: existing, added }
  }

  find(sessionId: string, userId: string): Promise<ParticipantRecord | undefined> {
    return this.db
      .selectFrom('chat_participants')
      .selectAll()
      .where('chat_session_id', '=', sessionId)
      .where('user_id', '=', userId)
      .executeTakeFirst()
  }

  list(sessionId: string): Promise<ParticipantRecord[]> {
    return this.db
      .selectFrom('chat_participants')
      .selectAll()
      .where('chat_session_id', '=', sessionId)
      .orderBy('joined_at')
      .orderBy('id')
      .execute()
  }

  async markRead(sessionId: string, userId: string, seq: number, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('chat_participants')
      .set({ last_read_seq: seq, last_read_at: at })
      .where('chat_session_id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('last_read_seq', '<', seq)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  async markDelivered(marks: readonly DeliveryMark[]): Promise<void> {
    const mark = columnsTable(this.dialect, [
      ['text', marks.map((m) => m.sessionId)],
      ['text', marks.map((m) => m.userId)],
      ['bigint', marks.map((m) => m.seq)],
    ])
    await sql`
      with mark (session_id, user_id, seq) as (${mark})
      update chat_participants set last_delivered_seq = mark.seq
        from mark
       where chat_participants.chat_session_id = mark.session_id
         and chat_participants.user_id = mark.user_id
         and chat_participants.last_delivered_seq < mark.seq
    `.execute(this.db)
  }
}

/** A row as a record; extra columns a statement returned beside the row's are left out. */
export function toMessageRecord(row: Selectable<ChatMessagesTable>): MessageRecord {
  const mentions = row.mentions === null ? null : (JSON.parse(row.mentions) as string[])
  return messageRecord(row, row.seq, mentions)
}

/** The newest `seq` of a session's messages, 0 before the first: one probe of their index. */
function newestSeq(sessionId: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`coalesce((select max(m.seq) from chat_messages m
                                where m.chat_session_id = ${sessionId}), 0)`
}

/** Every column of a session's row, so that none is left out of what a read returns. */
const SESSION_ROW: Record<keyof ChatSessionsTable, true> = {
  id: true,
  title: true,
  status: true,
  initiator_id: true,
  assigned_agent_id: true,
  created_at: true,
  closed_at: true,
  closed_by: true,
  last_activity_at: true,
}
const SESSION_COLUMN_NAMES = Object.keys(SESSION_ROW) as Array<keyof ChatSessionsTable>
const SESSION_COLUMNS = SESSION_COLUMN_NAMES.map((column) => `s.${column}` as const)

function sessionRow(session: SessionRecord): ChatSessionsTable {
  return Object.fromEntries(
    SESSION_COLUMN_NAMES.map((column) => [column, session[column]]),
  ) as unknown as ChatSessionsTable
}

/** Sessions (as `s`) with their figures, each read from the messages' `(chat_session_id, seq)` index. */
function selectSessions(db: Db) {
  return (
    db
      .selectFrom('chat_sessions as s')
      // Named, not `s.*`: PostgreSQL's row also holds its own `last_seq` counter (see the schema).
      .select(SESSION_COLUMNS)
      .select([
        newestSeq(sql.ref('s.id')).as('last_seq'),
        sql<number | null>`(select m.created_at from chat_messages m
                           where m.chat_session_id = s.id and m.seq = 1)`.as('started_at'),
        sql<number | null>`(select m.created_at from chat_messages m
                           where m.chat_session_id = s.id order by m.seq desc limit 1)`.as(
          'last_message_at',
        ),
      ])
  )
}

class SqlMessageStore implements MessageStore {
  constructor(
    private readonly db: Db,
    private readonly appender: MessageAppender,
    private readonly activity: MarksBehind<ActivityMark>,
  ) {}

  append(message: NewMessage): Promise<AppendResult> {
    return this.appender.append(message).then((result) => {
      if (result.outcome === 'stored')
        this.activity.record(message.chat_session_id, {
          sessionId: message.chat_session_id,
          at: message.created_at,
        })
      return result
    })
  }

  async findById(id: string): Promise<MessageRecord | undefined> {
    const row = await this.db
      .selectFrom('chat_messages')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row && toMessageRecord(row)
  }

  async findBySeq(sessionId: string, seq: number): Promise<MessageRecord | undefined> {
    const row = await this.db
      .selectFrom('chat_messages')
      .selectAll()
      .where('chat_session_id', '=', sessionId)
      .where('seq', '=', seq)
      .executeTakeFirst()
    return row && toMessageRecord(row)
  }

  async history(query: HistoryQuery): Promise<MessageRecord[]> {
    const { sessionId, limit, hiddenSenders, position } = query
    let select = this.db
      .selectFrom('chat_messages')
      .selectAll()
      .where('chat_session_id', '=', sessionId)
      .limit(limit)
    if (hiddenSenders.length > 0) select = select.where('sender_id', 'not in', hiddenSenders)

    if ('afterSeq' in position) {
      select = select.where('seq', '>', position.afterSeq).orderBy('seq', 'asc')
    } else if ('beforeSeq' in position) {
      select = select.where('seq', '<', position.beforeSeq).orderBy('seq', 'desc')
    } else if (hiddenSenders.length === 0) {
      // Seqs have no gaps, so "skip the newest N" is a seq bound: an index range, however deep.
      select = select
        .where('seq', '<=', sql<number>`${newestSeq(sql.val(sessionId))} - ${position.offset}`)
        .orderBy('seq', 'desc')
    } else {
      select = select.orderBy('seq', 'desc').offset(position.offset)
    }
    return (await select.execute()).map(toMessageRecord)
  }

  async unreadCounts(
    userId: string,
    sessionIds: readonly string[],
    hiddenSenders: readonly string[],
  ): Promise<Map<string, number>> {
    const counts = new Map<string, number>()
    if (sessionIds.length === 0) return counts
    // Seqs have no gaps, so everything after the read mark is `last_seq - last_read_seq`; from it,
    // subtract the caller's own and hidden senders' messages after the mark: an index range over
    // the unread part only, bounded by the marks as values so the planner sees how narrow it is.
    const marks = await this.db
      .selectFrom('chat_participants as p')
      .select(['p.chat_session_id', 'p.last_read_seq'])
      .select(newestSeq(sql.ref('p.chat_session_id')).as('last_seq'))
      .where('p.user_id', '=', userId)
      .where('p.chat_session_id', 'in', sessionIds)
      .execute()
    const behind = marks.filter((mark) => mark.last_seq > mark.last_read_seq)
    const excluded = new Map<string, number>()
    if (behind.length > 0) {
      const rows = await this.db
        .selectFrom('chat_messages')
        .select(['chat_session_id', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('sender_id', 'in', [userId, ...hiddenSenders])
        .where((eb) =>
          eb.or(
            behind.map((mark) =>
              eb.and([
                eb('chat_session_id', '=', mark.chat_session_id),
                eb('seq', '>', mark.last_read_seq),
              ]),
            ),
          ),
        )
        .groupBy('chat_session_id')
        .execute()
      for (const row of rows) excluded.set(row.chat_session_id, Number(row.n))
    }
    for (const mark of marks) {
      const after = mark.last_seq - mark.last_read_seq
      counts.set(
        mark.chat_session_id,
        Math.max(0, after - (excluded.get(mark.chat_session_id) ?? 0)),
      )
    }
    return counts
  }
}

class SqlBlockStore implements BlockStore {
  constructor(private readonly db: Db) {}

  async block(block: BlockRecord): Promise<void> {
    await this.db
      .insertInto('user_blocks')
      .values(block)
      .onConflict((oc) => oc.columns(['blocker_id', 'blocked_id']).doNothing())
      .execute()
  }

  async unblock(blockerId: string, blockedId: string): Promise<void> {
    await this.db
      .deleteFrom('user_blocks')
      .where('blocker_id', '=', blockerId)
      .where('blocked_id', '=', blockedId)
      .execute()
  }

  listByBlocker(blockerId: string): Promise<BlockRecord[]> {
    return this.db
      .selectFrom('user_blocks')
      .selectAll()
      .where('blocker_id', '=', blockerId)
      .orderBy('created_at')
      .execute()
  }

  async amongUsers(userIds: readonly string[]): Promise<BlockRecord[]> {
    if (userIds.length < 2) return []
    return this.db
      .selectFrom('user_blocks')
      .selectAll()
      .where('blocker_id', 'in', userIds)
      .where('blocked_id', 'in', userIds)
      .execute()
  }

  withinSession(sessionId: string): Promise<BlockRecord[]> {
    const members = this.db
      .selectFrom('chat_participants')
      .select('user_id')
      .where('chat_session_id', '=', sessionId)
    return this.db
      .selectFrom('user_blocks')
      .selectAll()
      .where('blocker_id', 'in', members)
      .where('blocked_id', 'in', members)
      .execute()
  }

  async hasBlocked(blockerId: string, blockedId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('user_blocks')
      .select('blocker_id')
      .where('blocker_id', '=', blockerId)
      .where('blocked_id', '=', blockedId)
      .executeTakeFirst()
    return row !== undefined
  }
}
