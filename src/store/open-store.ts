import type { Config } from '../config.js'
import { openPostgresStore } from './postgres.js'
import { openSqliteStore } from './sqlite.js'
import type { Store } from './store.js'

/** Opens the configured database and brings its schema up to date. */
export function openStore(database: Config['database']): Promise<Store> {
  return database.kind === 'sqlite'
    ? openSqliteStore({ file: database.file, synchronous: database.synchronous })
    : openPostgresStore({ url: database.url, poolSize: database.poolSize })
}
