import SqliteDatabase from 'better-sqlite3'

/**
 * The least a stored message can be: a message-sized row with its primary key, nothing our schema
 * adds (indexes, counters, delivery marks). The database floors (`commit alone`, and the bare ws
 * server when it stores) write this row, so what they cost is a floor under any server that stores
 * each message before broadcasting it.
 */
export const MESSAGE_ROW_TABLE = `create table if not exists message_row (
  id text primary key,
  chat_session_id text not null,
  seq bigint not null,
  content text not null,
  created_at bigint not null
)`

/** Its insert, in PostgreSQL's placeholders (`openMessageRowFile` turns them into SQLite's `?`). */
export const INSERT_MESSAGE_ROW = 'insert into message_row values ($1, $2, $3, $4, $5)'

export type MessageRow = [
  id: string,
  chatSessionId: string,
  seq: number,
  content: string,
  createdAt: number,
]

/**
 * A SQLite file with the durability our server runs with by default (WAL, `synchronous=NORMAL`: a
 * committed row survives a crash of the process) and SQLite's defaults otherwise, holding the table
 * and ready to insert.
 */
export function openMessageRowFile(file: string): {
  db: SqliteDatabase.Database
  insert: SqliteDatabase.Statement<MessageRow>
} {
  const db = new SqliteDatabase(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(MESSAGE_ROW_TABLE)
  return { db, insert: db.prepare(INSERT_MESSAGE_ROW.replace(/\$\d/g, '?')) }
}
