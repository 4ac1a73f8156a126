import pg from 'pg'
import { Batches } from '../../../src/store/batches.js'
import { MESSAGE_ROW_TABLE, openMessageRowFile, type MessageRow } from '../../message-row.js'

/**
 * The least storing can add to the bare ws server, on either database: each message is stored as
 * a message-sized row and broadcast once committed, the messages that arrive together committed
 * together, in the way our server batches them on that database but with nothing of our schema
 * (indexes, counters, delivery marks). What a server storing first costs above this is its own.
 */
export interface GroupCommit {
  /** Stores `row`; calls `broadcast` once it is committed, in the order rows were given. */
  store(row: MessageRow, broadcast: () => void): void
}

interface Pending {
  row: MessageRow
  broadcast: () => void
}

/** From the environment: `SQLITE_FILE` or `POSTGRES_URL` (whose `search_path` holds the table). */
export async function groupCommitFromEnv(): Promise<GroupCommit | undefined> {
  if (process.env.SQLITE_FILE) return new SqliteGroupCommit(process.env.SQLITE_FILE)
  if (process.env.POSTGRES_URL) return PostgresGroupCommit.open(process.env.POSTGRES_URL)
  return undefined
}

/**
 * On SQLite, the messages of one turn of the event loop are committed together on the event loop
 * itself, which costs no hand-off to another thread. No checkpoint runs: the log only grows, which
 * a bench run can afford and a real server cannot, so checkpoints come on top of this for any
 * server.
 */
class SqliteGroupCommit implements GroupCommit {
  readonly #commit: (rows: MessageRow[]) => void
  #pending: Pending[] = []

  constructor(file: string) {
    const { db, insert } = openMessageRowFile(file)
    db.pragma('wal_autocheckpoint = 0')
    this.#commit = db.transaction((rows: MessageRow[]) => {
      for (const row of rows) insert.run(...row)
    })
  }

  store(row: MessageRow, broadcast: () => void): void {
    if (this.#pending.push({ row, broadcast }) === 1) setImmediate(() => this.#flush())
  }

  #flush(): void {
    const batch = this.#pending
    this.#pending = []
    this.#commit(batch.map((pending) => pending.row))
    for (const pending of batch) pending.broadcast()
  }
}

/** As many as our server's PostgreSQL appender keeps in flight (with the same `Batches`). */
const MAX_BATCHES_IN_FLIGHT = 4

/**
 * On PostgreSQL, as our server's appender does: the messages of one turn of the event loop go in
 * one statement (one round trip, one flush of the log at its commit, PostgreSQL's defaults), up to
 * four batches in flight while the next one gathers. Broadcasts follow the order of the batches,
 * so a session's messages still go out in `seq` order when a later batch commits first.
 */
class PostgresGroupCommit implements GroupCommit {
  readonly #batches = new Batches<Pending>(MAX_BATCHES_IN_FLIGHT, (batch) => this.#commit(batch))
  #lastBroadcast: Promise<void> = Promise.resolve()

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PostgresGroupCommit> {
    const pool = new pg.Pool({ connectionString: url, max: MAX_BATCHES_IN_FLIGHT })
    await pool.query(MESSAGE_ROW_TABLE)
    return new PostgresGroupCommit(pool)
  }

  store(row: MessageRow, broadcast: () => void): void {
    this.#batches.add({ row, broadcast })
  }

  /** Resolves once committed; the broadcasts wait for the earlier batches' too. */
  #commit(batch: Pending[]): Promise<void> {
    const committed = this.#insert(batch.map((pending) => pending.row))
    this.#lastBroadcast = Promise.all([this.#lastBroadcast, committed]).then(() => {
      for (const pending of batch) pending.broadcast()
    })
    return committed
  }

  async #insert(rows: MessageRow[]): Promise<void> {
    const column = (index: number) => rows.map((row) => row[index])
    try {
      await this.pool.query({
        name: 'insert_message_rows',
        text: `insert into message_row
               select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])`,
        values: [column(0), column(1), column(2), column(3), column(4)],
      })
    } catch (error) {
      // A floor that failed to store measures nothing: stop, and the run reports the error.
      console.error(error)
      process.exit(1)
    }
  }
}
