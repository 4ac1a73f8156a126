/**
 * Driver errors the edges must recognise without importing a driver: a database that cannot be
 * reached becomes `unavailable` (503), a unique constraint a `conflict` where the caller expects one.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_FULL',
])

export function isStoreUnavailable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') {
      if (UNREACHABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('SQLITE_IOERR')) {
        return true
      }
    }
    // pg's pool and client say these in words only.
    if (
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed|driver has already been destroyed|database connection is not open/i.test(
        e.message,
      )
    ) {
      return true
    }
    if (e instanceof AggregateError && e.errors.some(isStoreUnavailable)) return true
  }
  return false
}

export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  )
}
