import { newId } from '../ids.js'
import type { Config } from '../config.js'
import { AppError, conflict, forbidden } from '../errors.js'
import { RateLimiter } from '../rate-limit.js'
import { isUniqueViolation } from '../store/store-errors.js'
import type { Role, Store, UserRecord } from '../store/store.js'
import { hashPassword, verifyDecoy, verifyPassword } from './passwords.js'
import type { Tokens } from './tokens.js'

export interface NewAccount {
  email: string
  password: string
  full_name?: string | null | undefined
}

const ROLES: readonly Role[] = ['user', 'agent', 'admin']

/**
 * Accounts and tokens. Knows nothing of HTTP: it throws `AppError`s and returns records.
 *
 * Failed logins are limited per email and client address together, so nobody can lock an agent
 * out from elsewhere; logins and registrations are limited per client address, generously, since
 * a busy office shares one address.
 */
export class AuthService {
  readonly #store: Store
  readonly #tokens: Tokens
  readonly #config: Config['auth']
  readonly #loginFailures: RateLimiter
  readonly #authRequests: RateLimiter

  constructor(options: {
    store: Store
    tokens: Tokens
    auth: Config['auth']
    limits: Config['limits']
    now?: () => number
  }) {
    this.#store = options.store
    this.#tokens = options.tokens
    this.#config = options.auth
    const { limits } = options
    this.#loginFailures = new RateLimiter({
      capacity: limits.loginFailures,
      refillPerSecond: limits.loginFailures / limits.loginFailureWindowSeconds,
      now: options.now,
    })
    this.#authRequests = new RateLimiter({
      capacity: limits.authRequestsPerMinute,
      refillPerSecond: limits.authRequestsPerMinute / 60,
      now: options.now,
    })
  }

  async register(account: NewAccount, clientAddress: string): Promise<UserRecord> {
    if (!this.#config.allowRegistration)
      throw forbidden('Registration is turned off on this server.')
    this.#limitRequest(clientAddress)
    return this.createUser({ ...account, role: 'user' })
  }

  /** Makes an account with any role: admins making agents, the bootstrap admin, the CLI. */
  async createUser(account: NewAccount & { role: Role }): Promise<UserRecord> {
    const email = account.email.trim().toLowerCase()
    if ((await this.#store.users.findByEmail(email)) !== undefined) {
      throw conflict('An account with this email already exists.')
    }
    const user: UserRecord = {
      id: newId(),
      email,
      full_name: account.full_name ?? null,
      role: account.role,
      password_hash: await hashPassword(account.password),
      external_issuer: null,
      external_subject: null,
      created_at: Date.now(),
    }
    try {
      await this.#store.users.insert(user)
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('An account with this email already exists.')
      throw error
    }
    return user
  }

  /** Creates the configured admin at start-up unless that email already has an account. */
  async ensureAdmin(admin: { email: string; password: string }): Promise<'created' | 'exists'> {
    if ((await this.#store.users.findByEmail(admin.email)) !== undefined) return 'exists'
    try {
      await this.createUser({ ...admin, role: 'admin', full_name: 'Administrator' })
      return 'created'
    } catch (error) {
      // Another node created it at the same moment.
      if (error instanceof AppError && error.code === 'conflict') return 'exists'
      throw error
    }
  }

  async login(
    credentials: { email: string; password: string },
    clientAddress: string,
  ): Promise<{ access_token: string; token_type: 'bearer'; expires_in: number }> {
    this.#limitRequest(clientAddress)
    const email = credentials.email.trim().toLowerCase()
    const failureKey = `${email}\n${clientAddress}`
    const limited = this.#loginFailures.check(failureKey)
    if (!limited.allowed) {
      throw new AppError('rate_limited', 'Too many failed logins; try again later.', {
        retryAfterSeconds: limited.retryAfterSeconds,
      })
    }
    const user = await this.#store.users.findByEmail(email)
    const valid =
      user?.password_hash != null
        ? await verifyPassword(credentials.password, user.password_hash)
        : await verifyDecoy(credentials.password)
    if (!valid || user === undefined) {
      this.#loginFailures.take(failureKey)
      throw new AppError('unauthenticated', 'The email or password is incorrect.')
    }
    this.#loginFailures.reset(failureKey)
    return {
      access_token: await this.#tokens.issue(user),
      token_type: 'bearer',
      expires_in: this.#tokens.ttlSeconds,
    }
  }

  /**
   * The user a bearer token speaks for, with the role from our record. An outside provider's user
   * is created on first use, linked to the token's issuer and subject.
   */
  async authenticate(token: string): Promise<{ user: UserRecord; expiresAtMs: number }> {
    const identity = await this.#tokens.verify(token)
    if (identity.kind === 'local') {
      const user = await this.#store.users.findById(identity.userId)
      if (user === undefined)
        throw new AppError('unauthenticated', 'The token names no existing user.')
      return { user, expiresAtMs: identity.expiresAtMs }
    }
    const existing = await this.#store.users.findByExternalIdentity(
      identity.issuer,
      identity.subject,
    )
    if (existing !== undefined) return { user: existing, expiresAtMs: identity.expiresAtMs }
    const user = await this.#createExternalUser(identity.issuer, identity.subject, identity.claims)
    return { user, expiresAtMs: identity.expiresAtMs }
  }

  async #createExternalUser(
    issuer: string,
    subject: string,
    claims: Record<string, unknown>,
  ): Promise<UserRecord> {
    const claimedRole = this.#config.external?.roleClaim && claims[this.#config.external.roleClaim]
    const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : null
    const user: UserRecord = {
      id: newId(),
      email:
        email !== null && (await this.#store.users.findByEmail(email)) === undefined ? email : null,
      full_name: typeof claims.name === 'string' ? claims.name : null,
      role: ROLES.includes(claimedRole as Role) ? (claimedRole as Role) : 'user',
      password_hash: null,
      external_issuer: issuer,
      external_subject: subject,
      created_at: Date.now(),
    }
    try {
      await this.#store.users.insert(user)
      return user
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
      // The same subject's first two requests raced; the other one created the user.
      const winner = await this.#store.users.findByExternalIdentity(issuer, subject)
      if (winner === undefined) throw error
      return winner
    }
  }

  #limitRequest(clientAddress: string): void {
    const limited = this.#authRequests.take(clientAddress)
    if (!limited.allowed) {
      throw new AppError('rate_limited', 'Too many requests from this address; try again later.', {
        retryAfterSeconds: limited.retryAfterSeconds,
      })
    }
  }
}
