/**
 * Shows that history pages and unread counts cost the same however long a session is: seeds one
 * PostgreSQL session with 100,000 messages (in a schema of its own, dropped afterwards), runs the
 * store's own queries, and prints PostgreSQL's EXPLAIN ANALYZE for each.
 *
 *   npm run build && DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node dist/bench/explain-history.js
 */
import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { openPostgresStore } from '../src/store/postgres.js'

const MESSAGES = Number(process.env.MESSAGES ?? 100_000)
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `explain_${randomBytes(4).toString('hex')}`

const captured: Array<{ sql: string; parameters: readonly unknown[] }> = []
const store = await openPostgresStore({
  url,
  poolSize: 2,
  schema,
  onQuery: (sql, parameters) => captured.push({ sql, parameters }),
})
const admin = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
await admin.connect()

try {
  const [reader, writer] = [randomUUID(), randomUUID()]
  const sessionId = randomUUID()
  const now = Date.now()
  await admin.query(
    `insert into users (id, email, role, created_at) values ($1, $2, 'user', $4), ($3, null, 'agent', $4)`,
    [reader, `reader-${reader}@example.com`, writer, now],
  )
  await admin.query(
    `insert into chat_sessions (id, title, status, initiator_id, created_at, last_seq,
         last_activity_at)
     values ($1, 'long', 'active', $2, $3, $4, $3)`,
    [sessionId, reader, now, MESSAGES],
  )
  await admin.query(
    `insert into chat_participants (id, chat_session_id, user_id, role, joined_at, last_read_seq)
     values ($1, $2, $3, 'user', $4, $5)`,
    [randomUUID(), sessionId, reader, now, MESSAGES - 20],
  )
  await admin.query(
    `insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content, created_at)
     select gen_random_uuid()::text, $1, s, case when s % 2 = 0 then $2 else $3 end, 'text',
            'message ' || s, $4 + s
       from generate_series(1, $5::bigint) as s`,
    [sessionId, reader, writer, now, MESSAGES],
  )
  await admin.query('analyze')
  const middle = (await store.messages.findBySeq(sessionId, Math.floor(MESSAGES / 2)))!

  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      'newest page (offset 0)',
      () =>
        store.messages.history({
          sessionId,
          limit: 50,
          hiddenSenders: [],
          position: { offset: 0 },
        }),
    ],
    [
      'deep page (offset 90,000)',
      () =>
        store.messages.history({
          sessionId,
          limit: 50,
          hiddenSenders: [],
          position: { offset: MESSAGES - 10_000 },
        }),
    ],
    [
      'cursor page (before= the middle)',
      () =>
        store.messages.history({
          sessionId,
          limit: 50,
          hiddenSenders: [],
          position: { beforeSeq: middle.seq },
        }),
    ],
    [
      'catch-up page (after= the middle)',
      () =>
        store.messages.history({
          sessionId,
          limit: 50,
          hiddenSenders: [],
          position: { afterSeq: middle.seq },
        }),
    ],
    ['unread count', () => store.messages.unreadCounts(reader, [sessionId], [])],
  ]
  console.log(`PostgreSQL, one session of ${MESSAGES.toLocaleString('en')} messages\n`)
  for (const [name, run] of cases) {
    captured.length = 0
    await run()
    const query = captured.at(-1)!
    const plan = await admin.query(`explain (analyze, buffers, costs off) ${query.sql}`, [
      ...query.parameters,
    ])
    console.log(
      `-- ${name}\n${plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n')}\n`,
    )
  }
} finally {
  await store.close()
  await admin.query(`drop schema "${schema}" cascade`)
  await admin.end()
}
