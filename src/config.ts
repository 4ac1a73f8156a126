import path from 'node:path'

/**
 * Everything the process can be told from outside, read once at start-up. A bad value stops the
 * process with a `ConfigError` whose message names the variable; nothing else reads `process.env`.
 */
export interface Config {
  host: string
  port: number
  /** Folder for the SQLite file, the generated JWT secret and stored files. */
  dataDir: string
  database: { kind: 'sqlite'; file: string; synchronous: 'NORMAL' | 'FULL' } | PostgresDatabase
  redisUrl: string | undefined
  /** Prepended to every Redis key and channel, so several deployments can share one Redis. */
  redisPrefix: string
  nodeId: string
  logLevel: string
  trustProxy: boolean
  auth: AuthConfig
  corsOrigins: string[]
  /** Empty: any origin may open a socket (tokens, not cookies, authenticate). */
  wsAllowedOrigins: string[]
  limits: LimitsConfig
  realtime: RealtimeConfig
  admin: { email: string; password: string } | undefined
}

export interface PostgresDatabase {
  kind: 'postgres'
  url: string
  poolSize: number
}

export interface AuthConfig {
  /** Unset: the embedded default generates one and keeps it in the data folder. */
  jwtSecret: string | undefined
  tokenTtlSeconds: number
  allowRegistration: boolean
  external: ExternalIdentityConfig | undefined
}

/** Tokens from another identity provider, verified by its JWKS or public key. */
export interface ExternalIdentityConfig {
  jwksUrl: string | undefined
  publicKeyPem: string | undefined
  issuer: string | undefined
  audience: string | undefined
  /** A claim whose value (`user`, `agent`, `admin`) sets the role of a user created from a token. */
  roleClaim: string | undefined
}

export interface LimitsConfig {
  /** Token bucket per user over socket and REST sends. */
  messagesPerSecond: number
  messageBurst: number
  /** Refused sends in a row, past the bucket, before the socket is closed for flooding. */
  floodCloseAfter: number
  /** Sends waiting for the store at once; past it, sends are refused (`unavailable`) until it drains. */
  maxPendingMessages: number
  maxSocketsPerUser: number
  /** Failed logins per email and client address together, within the window. */
  loginFailures: number
  loginFailureWindowSeconds: number
  /** Logins and registrations per client address per minute (a busy office shares one). */
  authRequestsPerMinute: number
}

export interface RealtimeConfig {
  pingIntervalMs: number
  typingTimeoutMs: number
  shutdownGraceMs: number
  /** A node whose heartbeat is older than this drops out of every count. */
  nodeTimeoutMs: number
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable} ${detail}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const read = new EnvReader(env)
  const dataDir = path.resolve(cwd, read.string('DATA_DIR', './data'))
  const redisUrl = read.optionalUrl('REDIS_URL', ['redis:', 'rediss:'])
  const auth: AuthConfig = {
    jwtSecret: read.optionalString('JWT_SECRET'),
    tokenTtlSeconds: read.int('JWT_TTL_SECONDS', 86_400, { min: 60, max: 31_536_000 }),
    allowRegistration: read.bool('ALLOW_REGISTRATION', true),
    external: readExternalIdentity(read),
  }
  if (auth.jwtSecret !== undefined && auth.jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters long.')
  }
  if (redisUrl !== undefined && auth.jwtSecret === undefined && auth.external === undefined) {
    throw new ConfigError(
      'JWT_SECRET',
      'is required when REDIS_URL is set: every node must verify the same tokens (or configure JWT_JWKS_URL / JWT_PUBLIC_KEY).',
    )
  }
  const adminEmail = read.optionalString('ADMIN_EMAIL')
  const adminPassword = read.optionalString('ADMIN_PASSWORD')
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(
      adminEmail === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD',
      'must be set together with the other of ADMIN_EMAIL and ADMIN_PASSWORD.',
    )
  }
  if (adminPassword !== undefined && (adminPassword.length < 8 || adminPassword.length > 128)) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be 8 to 128 characters long.')
  }

  return {
    host: read.string('HOST', '0.0.0.0'),
    port: read.int('PORT', 8000, { min: 0, max: 65_535 }),
    dataDir,
    database: readDatabase(read, dataDir),
    redisUrl,
    redisPrefix: read.string('REDIS_PREFIX', ''),
    nodeId: read.matching(
      'NODE_ID',
      `node-${process.pid}-${Date.now().toString(36)}`,
      /^[\w.-]{1,64}$/,
      'letters, digits, dots, dashes and underscores (at most 64)',
    ),
    logLevel: read.oneOf('LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
    trustProxy: read.bool('TRUST_PROXY', false),
    auth,
    corsOrigins: read.list('CORS_ORIGINS'),
    wsAllowedOrigins: read.list('WS_ALLOWED_ORIGINS'),
    limits: {
      messagesPerSecond: read.number('MESSAGE_RATE_PER_SECOND', 10, { min: 0.01 }),
      messageBurst: read.int('MESSAGE_RATE_BURST', 30, { min: 1 }),
      floodCloseAfter: read.int('MESSAGE_FLOOD_CLOSE_AFTER', 50, { min: 1 }),
      maxPendingMessages: read.int('MAX_PENDING_MESSAGES', 10_000, { min: 1 }),
      maxSocketsPerUser: read.int('MAX_SOCKETS_PER_USER', 20, { min: 1 }),
      loginFailures: read.int('LOGIN_FAILURE_LIMIT', 5, { min: 1 }),
      loginFailureWindowSeconds: read.int('LOGIN_FAILURE_WINDOW_SECONDS', 900, { min: 1 }),
      authRequestsPerMinute: read.int('AUTH_RATE_PER_MINUTE', 300, { min: 1 }),
    },
    realtime: {
      pingIntervalMs: read.int('WS_PING_INTERVAL_MS', 30_000, { min: 50 }),
      typingTimeoutMs: read.int('TYPING_TIMEOUT_MS', 5_000, { min: 50 }),
      shutdownGraceMs: read.int('SHUTDOWN_GRACE_MS', 8_000, { min: 0, max: 60_000 }),
      nodeTimeoutMs: read.int('NODE_TIMEOUT_MS', 20_000, { min: 1_000 }),
    },
    admin:
      adminEmail !== undefined && adminPassword !== undefined
        ? { email: adminEmail, password: adminPassword }
        : undefined,
  }
}

function readDatabase(read: EnvReader, dataDir: string): Config['database'] {
  const synchronous = read.oneOf('SQLITE_SYNCHRONOUS', 'NORMAL', ['NORMAL', 'FULL'] as const)
  const url = read.optionalString('DATABASE_URL')
  if (url === undefined) {
    return { kind: 'sqlite', file: path.join(dataDir, 'chat.db'), synchronous }
  }
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\//, '')
    if (file === '') throw new ConfigError('DATABASE_URL', 'names no SQLite file after "sqlite:".')
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file), synchronous }
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    read.optionalUrl('DATABASE_URL', ['postgres:', 'postgresql:'])
    return { kind: 'postgres', url, poolSize: read.int('DATABASE_POOL_SIZE', 10, { min: 1 }) }
  }
  throw new ConfigError(
    'DATABASE_URL',
    'must start with postgres:// (PostgreSQL) or sqlite: (a SQLite file); leave it unset for the embedded default.',
  )
}

function readExternalIdentity(read: EnvReader): ExternalIdentityConfig | undefined {
  const jwksUrl = read.optionalUrl('JWT_JWKS_URL', ['http:', 'https:'])
  const publicKeyPem = read.optionalString('JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n')
  if (jwksUrl === undefined && publicKeyPem === undefined) return undefined
  if (publicKeyPem !== undefined && !publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new ConfigError(
      'JWT_PUBLIC_KEY',
      'must be a PEM public key (-----BEGIN PUBLIC KEY-----).',
    )
  }
  return {
    jwksUrl,
    publicKeyPem,
    issuer: read.optionalString('JWT_ISSUER'),
    audience: read.optionalString('JWT_AUDIENCE'),
    roleClaim: read.optionalString('JWT_ROLE_CLAIM'),
  }
}

class EnvReader {
  constructor(private readonly env: Env) {}

  optionalString(name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback
  }

  number(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.optionalString(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    const { min = -Infinity, max = Infinity } = range
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(name, `must be a number${describeRange(min, max)}; got "${raw}".`)
    }
    return value
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const value = this.number(name, fallback, range)
    if (!Number.isInteger(value)) {
      throw new ConfigError(name, `must be a whole number; got "${this.env[name]}".`)
    }
    return value
  }

  matching(name: string, fallback: string, pattern: RegExp, description: string): string {
    const value = this.string(name, fallback)
    if (!pattern.test(value))
      throw new ConfigError(name, `may contain only ${description}; got "${value}".`)
    return value
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.toLowerCase()
    if (raw === undefined) return fallback
    if (['true', '1', 'yes', 'on'].includes(raw)) return true
    if (['false', '0', 'no', 'off'].includes(raw)) return false
    throw new ConfigError(name, `must be true or false; got "${raw}".`)
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.optionalString(name)
    if (raw === undefined) return fallback
    const match = allowed.find((option) => option.toLowerCase() === raw.toLowerCase())
    if (match === undefined) {
      throw new ConfigError(name, `must be one of ${allowed.join(', ')}; got "${raw}".`)
    }
    return match
  }

  list(name: string): string[] {
    return (this.optionalString(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
  }

  optionalUrl(name: string, protocols: string[]): string | undefined {
    const raw = this.optionalString(name)
    if (raw === undefined) return undefined
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new ConfigError(name, `must be a URL; got "${raw}".`)
    }
    if (!protocols.includes(url.protocol)) {
      throw new ConfigError(name, `must be a ${protocols.join(' or ')} URL; got "${url.protocol}".`)
    }
    return raw
  }
}

function describeRange(min: number, max: number): string {
  if (min > -Infinity && max < Infinity) return ` from ${min} to ${max}`
  if (min > -Infinity) return ` of at least ${min}`
  if (max < Infinity) return ` of at most ${max}`
  return ''
}
