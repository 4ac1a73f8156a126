import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { newMessage, participantRecord, sessionRecord, userRecord } from '../testing/records.js'
import { createTestStore, testDatabase, type TestStore } from '../testing/test-app.js'
import type { NewMessage, Store } from './store.js'

describe(`store on ${testDatabase}`, () => {
  let testStore: TestStore
  let store: Store
  let sessionId: string
  let senders: string[]

  beforeEach(async () => {
    testStore = await createTestStore()
    store = testStore.store
    senders = []
    for (let i = 0; i < 4; i++) {
      const user = userRecord()
      senders.push(user.id)
      await store.users.insert(user)
    }
    sessionId = await newSession()
  })

  afterEach(() => testStore.drop())

  async function newSession(): Promise<string> {
    const session = sessionRecord(senders[0]!)
    await store.sessions.insert(session)
    return session.id
  }

  function message(overrides: Partial<NewMessage> = {}): NewMessage {
    return newMessage(sessionId, senders[0]!, overrides)
  }

  it('numbers 250 concurrent appends to one session 1..250 with no gap and no duplicate', async () => {
    const results = await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        store.messages.append(message({ sender_id: senders[i % 4]!, content: `m${i}` })),
      ),
    )

    const seqs = results
      .map((r) => (r.outcome === 'stored' ? r.message.seq : -1))
      .sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1))
    const stored = await store.messages.history({
      sessionId,
      limit: 100,
      hiddenSenders: [],
      position: { afterSeq: 0 },
    })
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect((await store.sessions.findById(sessionId))?.last_seq).toBe(250)
  })

  it('keeps the numbering of two sessions apart', async () => {
    const other = await newSession()

    await Promise.all([
      store.messages.append(message()),
      store.messages.append(message({ chat_session_id: other })),
      store.messages.append(message()),
    ])

    expect((await store.sessions.findById(sessionId))?.last_seq).toBe(2)
    expect((await store.sessions.findById(other))?.last_seq).toBe(1)
  })

  it('keeps the newest message’s time on its session, and lists sessions by it at once', async () => {
    const later = await newSession()
    const sentAt = Date.now() + 60_000

    await store.messages.append(message({ created_at: sentAt }))
    const listed = await store.sessions.listAll({ limit: 10, offset: 0, status: undefined })

    expect(listed.map((session) => session.id)).toEqual([sessionId, later])
    expect(listed[0]).toMatchObject({ last_message_at: sentAt, last_activity_at: sentAt })
    expect(listed[1]).toMatchObject({ last_message_at: null })
  })

  it('reads a session’s figures from its messages: the newest seq, the first and the newest time', async () => {
    for (const userId of senders.slice(0, 2)) {
      await store.participants.add(participantRecord(sessionId, userId))
    }
    const firstAt = Date.now()
    for (const [i, at] of [firstAt, firstAt + 5, firstAt + 9].entries()) {
      await store.messages.append(message({ created_at: at, content: `message ${i}` }))
    }

    const [found, listed] = [
      await store.sessions.findById(sessionId),
      await store.sessions.listForParticipant(senders[0]!, {
        limit: 10,
        offset: 0,
        status: undefined,
      }),
    ]
    for (const session of [found, ...listed]) {
      expect(session).toMatchObject({
        last_seq: 3,
        started_at: firstAt,
        last_message_at: firstAt + 9,
      })
    }
    const unread = await store.messages.unreadCounts(senders[1]!, [sessionId], [])
    expect(unread.get(sessionId)).toBe(3)
  })

  it('writes the lists’ order while appends run, neither waiting on the other for good', async () => {
    const sessions = [sessionId]
    for (let i = 0; i < 19; i++) sessions.push(await newSession())

    for (let round = 0; round < 15; round++) {
      await Promise.all([
        ...sessions.map((id) => store.messages.append(message({ chat_session_id: id }))),
        store.sessions.listAll({ limit: 50, offset: 0, status: 'active' }),
        ...sessions
          .toReversed()
          .map((id) => store.messages.append(message({ chat_session_id: id }))),
        store.sessions.listAll({ limit: 50, offset: 0, status: 'active' }),
      ])
    }

    const listed = await store.sessions.listAll({ limit: 50, offset: 0, status: 'active' })
    expect(listed.map((session) => session.last_seq)).toEqual(sessions.map(() => 30))
  })

  // Only PostgreSQL locks rows; SQLite writes one transaction at a time.
  if (testDatabase === 'postgres')
    it('writes the lists’ order locking sessions in id order, as appends do, so neither deadlocks', async () => {
      const [lower, higher] = [sessionId, await newSession()].sort()
      // Recorded higher first: written in that order, the write would lock `higher` first.
      await store.messages.append(message({ chat_session_id: higher! }))
      await store.messages.append(message({ chat_session_id: lower! }))
      const append = new pg.Client({ connectionString: testStore.databaseEnv.DATABASE_URL })
      await append.connect()
      try {
        // Another append's transaction, holding `lower` and about to take `higher`.
        await append.query('begin')
        await append.query('select id from chat_sessions where id = $1 for update', [lower])
        const listed = store.sessions.listAll({ limit: 10, offset: 0, status: undefined })
        await sleep(200)
        await append.query('select id from chat_sessions where id = $1 for update', [higher])
        await append.query('commit')

        // A deadlock would have failed one side: the append above, or this write (kept for later,
        // so the list would show the sessions' activity from before the messages).
        const sessions = await listed
        expect(sessions).toHaveLength(2)
        for (const session of sessions)
          expect(session.last_activity_at).toBe(session.last_message_at)
      } finally {
        await append.end()
      }
    })

  it('stores a repeated client_message_id once, even when both arrive at once', async () => {
    const [first, second] = await Promise.all([
      store.messages.append(message({ client_message_id: 'c-1' })),
      store.messages.append(message({ client_message_id: 'c-1', content: 'again' })),
    ])
    const third = await store.messages.append(message({ client_message_id: 'c-1' }))

    const outcomes = [first.outcome, second.outcome].sort()
    expect(outcomes).toEqual(['duplicate', 'stored'])
    expect(third.outcome).toBe('duplicate')
    expect((await store.sessions.findById(sessionId))?.last_seq).toBe(1)
  })

  it('treats the same client_message_id from another sender as a new message', async () => {
    await store.messages.append(message({ client_message_id: 'c-1' }))

    const other = await store.messages.append(
      message({ client_message_id: 'c-1', sender_id: senders[1]! }),
    )

    expect(other.outcome).toBe('stored')
  })

  it('answers a resend with the stored message, even once the session has closed', async () => {
    const sent = await store.messages.append(message({ client_message_id: 'before-close' }))
    await store.sessions.close(sessionId, senders[0]!, Date.now())

    const resent = await store.messages.append(message({ client_message_id: 'before-close' }))

    expect(sent.outcome).toBe('stored')
    expect(resent).toEqual({ outcome: 'duplicate', message: 'message' in sent && sent.message })
  })

  it('refuses appends to a closed or unknown session and to a reply of another session', async () => {
    const other = await newSession()
    const foreign = await store.messages.append(message({ chat_session_id: other }))
    if (foreign.outcome !== 'stored') throw new Error('setup failed')

    const badReply = await store.messages.append(message({ reply_to_id: foreign.message.id }))
    await store.sessions.close(sessionId, senders[0]!, Date.now())
    const closed = await store.messages.append(message())
    const missing = await store.messages.append(message({ chat_session_id: randomUUID() }))

    expect(badReply.outcome).toBe('reply_missing')
    expect(closed.outcome).toBe('session_closed')
    expect(missing.outcome).toBe('session_missing')
    expect((await store.sessions.findById(sessionId))?.last_seq).toBe(0)
  })

  it('gives each message of a mixed batch its own outcome, numbered in batch order', async () => {
    const [other, closing] = [await newSession(), await newSession()]
    const earlier = await store.messages.append(message({ client_message_id: 'sent-before' }))
    const foreign = await store.messages.append(message({ chat_session_id: other }))
    if (earlier.outcome !== 'stored' || foreign.outcome !== 'stored') throw new Error('setup')
    await store.sessions.close(closing, senders[0]!, Date.now())

    const results = await Promise.all([
      store.messages.append(message({ content: 'a' })),
      store.messages.append(message({ chat_session_id: other, content: 'b' })),
      store.messages.append(message({ client_message_id: 'sent-before' })),
      store.messages.append(message({ chat_session_id: closing })),
      store.messages.append(message({ reply_to_id: foreign.message.id })),
      store.messages.append(message({ client_message_id: 'twice', content: 'c' })),
      store.messages.append(message({ client_message_id: 'twice', content: 'c again' })),
      store.messages.append(message({ chat_session_id: other, content: 'd' })),
    ])

    const summary = results.map((r) =>
      'message' in r ? `${r.outcome} ${r.message.content} ${r.message.seq}` : r.outcome,
    )
    expect(summary).toEqual([
      'stored a 2',
      'stored b 2',
      `duplicate ${earlier.message.content} 1`,
      'session_closed',
      'reply_missing',
      'stored c 3',
      'duplicate c 3',
      'stored d 3',
    ])
    expect((await store.sessions.findById(sessionId))?.last_seq).toBe(3)
    expect((await store.sessions.findById(other))?.last_seq).toBe(3)
  })

  it('fails only the bad message of a batch', async () => {
    const results = await Promise.allSettled([
      store.messages.append(message()),
      store.messages.append(message({ sender_id: randomUUID() })), // no such user
      store.messages.append(message()),
    ])

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const page = await store.messages.history({
      sessionId,
      limit: 10,
      hiddenSenders: [],
      position: { afterSeq: 0 },
    })
    expect(page.map((m) => m.seq)).toEqual([1, 2])
  })

  it('keeps an append made during another caller’s transaction out of it', async () => {
    let appended: Promise<unknown> | undefined
    const rolledBack = store.transaction(async (tx) => {
      await tx.sessions.update(sessionId, { title: 'Renamed, then rolled back' })
      appended = store.messages.append(message({ content: 'outside the transaction' }))
      await new Promise((resolve) => setTimeout(resolve, 20))
      throw new Error('roll back')
    })

    await expect(rolledBack).rejects.toThrow('roll back')
    await expect(appended).resolves.toMatchObject({ outcome: 'stored' })
    expect((await store.sessions.findById(sessionId))?.title).toBe('Card declined')
    const page = await store.messages.history({
      sessionId,
      limit: 10,
      hiddenSenders: [],
      position: { afterSeq: 0 },
    })
    expect(page.map((m) => m.content)).toEqual(['outside the transaction'])
  })

  it('pages history by offset, before and after, and hides blocked senders', async () => {
    for (let i = 1; i <= 10; i++) {
      await store.messages.append(message({ sender_id: senders[i % 2]!, content: `m${i}` }))
    }

    const newest = await store.messages.history({
      sessionId,
      limit: 3,
      hiddenSenders: [],
      position: { offset: 0 },
    })
    const skipped = await store.messages.history({
      sessionId,
      limit: 3,
      hiddenSenders: [],
      position: { offset: 3 },
    })
    const before = await store.messages.history({
      sessionId,
      limit: 2,
      hiddenSenders: [],
      position: { beforeSeq: 5 },
    })
    const after = await store.messages.history({
      sessionId,
      limit: 2,
      hiddenSenders: [],
      position: { afterSeq: 5 },
    })
    const hidden = await store.messages.history({
      sessionId,
      limit: 3,
      hiddenSenders: [senders[1]!],
      position: { offset: 1 },
    })

    expect(newest.map((m) => m.seq)).toEqual([10, 9, 8])
    expect(skipped.map((m) => m.seq)).toEqual([7, 6, 5])
    expect(before.map((m) => m.seq)).toEqual([4, 3])
    expect(after.map((m) => m.seq)).toEqual([6, 7])
    expect(hidden.map((m) => m.seq)).toEqual([8, 6, 4])
  })

  it('counts unread messages after the read mark, not the reader’s own nor hidden ones', async () => {
    for (const sender of [senders[0]!, senders[1]!, senders[2]!, senders[1]!, senders[0]!]) {
      await store.messages.append(message({ sender_id: sender }))
    }
    await store.participants.add(participantRecord(sessionId, senders[0]!))

    const all = await store.messages.unreadCounts(senders[0]!, [sessionId], [])
    await store.participants.markRead(sessionId, senders[0]!, 2, Date.now())
    const afterRead = await store.messages.unreadCounts(senders[0]!, [sessionId], [senders[2]!])
    const movedBack = await store.participants.markRead(sessionId, senders[0]!, 1, Date.now())

    expect(all.get(sessionId)).toBe(3)
    expect(afterRead.get(sessionId)).toBe(1)
    expect(movedBack).toBe(false)
    expect((await store.participants.find(sessionId, senders[0]!))?.last_read_seq).toBe(2)
  })

  it('raises delivered marks in bulk, across sessions and users, and never lowers one', async () => {
    const sessions = [sessionId, await newSession()]
    for (const session of sessions) {
      for (const user of senders) {
        await store.participants.add(participantRecord(session, user, { last_delivered_seq: 3 }))
      }
    }

    await store.participants.markDelivered(
      sessions.flatMap((session, s) =>
        senders.map((userId, u) => ({ sessionId: session, userId, seq: 2 + s * 4 + u })),
      ),
    )

    const delivered = await Promise.all(
      sessions.map(async (session) =>
        (await store.participants.list(session))
          .sort((a, b) => senders.indexOf(a.user_id) - senders.indexOf(b.user_id))
          .map((p) => p.last_delivered_seq),
      ),
    )
    // Marks 2 and 3 are not above the stored 3: that one stays.
    expect(delivered).toEqual([
      [3, 3, 4, 5],
      [6, 7, 8, 9],
    ])
  })

  it('keeps mentions and file fields as sent', async () => {
    const result = await store.messages.append(
      message({
        message_type: 'file',
        content: 'Receipt.pdf',
        mentions: ['user-id-1'],
        file_url: 'https://bucket.example.com/r.pdf',
        file_name: 'Receipt.pdf',
        file_size: 245000,
        file_type: 'application/pdf',
      }),
    )
    if (result.outcome !== 'stored') throw new Error('not stored')

    const stored = await store.messages.findById(result.message.id)

    expect(stored).toEqual(result.message)
    expect(stored?.mentions).toEqual(['user-id-1'])
    expect(stored?.file_size).toBe(245000)
  })
})
