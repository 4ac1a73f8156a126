// @ts-check
'use strict'
/**
 * The SQLite connection, in a worker thread: every query and every message append runs here, so
 * the event loop that serves the sockets never waits for the disk or for SQLite's own work. The
 * main thread (`sqlite.ts`) sends requests; this thread answers them one at a time, in order.
 *
 * Plain CommonJS so it runs the same from the sources (tests) and from `dist/`.
 */
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)

/** @type {import('better-sqlite3').Database} */
const db = new Database(workerData.file)
db.pragma('journal_mode = WAL')
db.pragma(`synchronous = ${workerData.synchronous}`)
db.pragma('foreign_keys = ON')
db.pragma('busy_timeout = 5000')
// Reads of a hot database come from memory: a 64 MB page cache and a memory-mapped file.
db.pragma('cache_size = -65536')
db.pragma('mmap_size = 268435456')
// Checkpoints run on a thread of their own (sqlite-checkpointer.ts) when the database is a file.
if (workerData.file !== ':memory:') db.pragma('wal_autocheckpoint = 0')

/** Prepared statements by SQL text: the queries a server runs are few and repeat. */
const statements = new Map()
function prepared(sql) {
  let statement = statements.get(sql)
  if (statement === undefined) {
    if (statements.size >= 1000) statements.clear()
    statement = db.prepare(sql)
    statements.set(sql, statement)
  }
  return statement
}

function query(sql, parameters) {
  const statement = prepared(sql)
  if (statement.reader) return { rows: statement.all(parameters) }
  const { changes, lastInsertRowid } = statement.run(parameters)
  return { rows: [], changes, lastInsertRowid: Number(lastInsertRowid) }
}

/** The append statements, prepared on first use: the tables exist only once migrations ran. */
let append
function appendStatements() {
  return (append ??= {
    byClientId: db.prepare(
      `select * from chat_messages
      where chat_session_id = ? and sender_id = ? and client_message_id = ?`,
    ),
    replyExists: db.prepare('select 1 from chat_messages where id = ? and chat_session_id = ?'),
    nextSeq: db.prepare(
      `update chat_sessions
        set last_seq = last_seq + 1, started_at = coalesce(started_at, ?), last_activity_at = ?
      where id = ? and status = 'active'
      returning last_seq`,
    ),
    sessionExists: db.prepare('select 1 from chat_sessions where id = ?'),
    insert: db.prepare(
      `insert into chat_messages (id, chat_session_id, seq, sender_id, message_type, content,
        reply_to_id, mentions, file_url, file_name, file_size, file_type, client_message_id,
        created_at)
     values (@id, @chat_session_id, @seq, @sender_id, @message_type, @content, @reply_to_id,
        @mentions, @file_url, @file_name, @file_size, @file_type, @client_message_id,
        @created_at)`,
    ),
  })
}

/** One message: the outcome as `sqlite.ts` expects it; `mentions` stays JSON text. */
function appendOne(message) {
  const append = appendStatements()
  const sessionId = message.chat_session_id
  if (message.client_message_id !== null) {
    const existing = append.byClientId.get(sessionId, message.sender_id, message.client_message_id)
    if (existing !== undefined) return { outcome: 'duplicate', row: existing }
  }
  if (
    message.reply_to_id !== null &&
    append.replyExists.get(message.reply_to_id, sessionId) === undefined
  ) {
    return append.sessionExists.get(sessionId) === undefined
      ? { outcome: 'session_missing' }
      : { outcome: 'reply_missing' }
  }
  const bumped = append.nextSeq.get(message.created_at, message.created_at, sessionId)
  if (bumped === undefined) {
    return append.sessionExists.get(sessionId) === undefined
      ? { outcome: 'session_missing' }
      : { outcome: 'session_closed' }
  }
  const row = { ...message, seq: bumped.last_seq }
  append.insert.run(row)
  return { outcome: 'stored', row }
}

const appendAll = db.transaction((messages) => messages.map(appendOne))
const appendAlone = db.transaction(appendOne)

/**
 * Group commit: a batch is one transaction. If it fails as a whole (a message breaking a
 * constraint, which the checks above make all but impossible), each message runs alone, so a bad
 * message fails by itself and the others still commit.
 */
function appendBatch(messages) {
  try {
    return appendAll(messages).map((result) => ({ result }))
  } catch {
    return messages.map((message) => {
      try {
        return { result: appendAlone(message) }
      } catch (error) {
        return { error: describe(error) }
      }
    })
  }
}

function describe(error) {
  const { message, code } = /** @type {{ message?: string, code?: string }} */ (error)
  return { message: message ?? String(error), code }
}

parentPort?.on('message', (request) => {
  try {
    switch (request.op) {
      case 'query':
        return parentPort?.postMessage({
          id: request.id,
          result: query(request.sql, request.parameters),
        })
      case 'append':
        return parentPort?.postMessage({ id: request.id, result: appendBatch(request.messages) })
      case 'close':
        db.close()
        parentPort?.postMessage({ id: request.id, result: null })
        return parentPort?.close()
    }
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: describe(error) })
  }
})
