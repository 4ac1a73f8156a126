import { createPublicKey, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {
  SignJWT,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose'
import type { ExternalIdentityConfig } from '../config.js'
import { AppError } from '../errors.js'
import type { Role } from '../store/store.js'

const LOCAL_ALGORITHM = 'HS256'
const EXTERNAL_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]

/** Who a verified token speaks for: one of our users, or a subject of an outside provider. */
export type TokenIdentity =
  | { kind: 'local'; userId: string; expiresAtMs: number }
  | { kind: 'external'; issuer: string; subject: string; claims: JWTPayload; expiresAtMs: number }

/**
 * Issues our own tokens (HS256: `sub` = user id, `role`, `iat`, `exp`) and verifies both ours and,
 * when configured, an outside identity provider's. The role in a token is informative only: callers
 * take the role from the user record.
 */
export class Tokens {
  readonly #secret: Uint8Array
  readonly #ttlSeconds: number
  readonly #external: ExternalIdentityConfig | undefined
  readonly #externalKey: KeyObject | JWTVerifyGetKey | undefined

  constructor(options: {
    secret: Uint8Array
    ttlSeconds: number
    external?: ExternalIdentityConfig
  }) {
    this.#secret = options.secret
    this.#ttlSeconds = options.ttlSeconds
    this.#external = options.external
    const external = options.external
    if (external?.publicKeyPem !== undefined) {
      this.#externalKey = createPublicKey(external.publicKeyPem)
    } else if (external?.jwksUrl !== undefined) {
      this.#externalKey = createRemoteJWKSet(new URL(external.jwksUrl))
    }
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds
  }

  issue(user: { id: string; role: Role }): Promise<string> {
    return new SignJWT({ role: user.role })
      .setProtectedHeader({ alg: LOCAL_ALGORITHM, typ: 'JWT' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#secret)
  }

  /** Throws `unauthenticated` for anything but a valid, unexpired token. */
  async verify(token: string): Promise<TokenIdentity> {
    let algorithm: unknown
    try {
      algorithm = decodeProtectedHeader(token).alg
    } catch {
      throw unauthenticated('The token is not a JWT.')
    }
    try {
      if (algorithm === LOCAL_ALGORITHM) {
        const { payload } = await jwtVerify(token, this.#secret, {
          algorithms: [LOCAL_ALGORITHM],
          requiredClaims: ['sub', 'exp'],
        })
        return {
          kind: 'local',
          userId: payload.sub as string,
          expiresAtMs: (payload.exp as number) * 1000,
        }
      }
      if (
        this.#externalKey !== undefined &&
        typeof algorithm === 'string' &&
        EXTERNAL_ALGORITHMS.includes(algorithm)
      ) {
        return await this.#verifyExternal(token)
      }
    } catch (error) {
      if (error instanceof AppError) throw error
      if (error instanceof joseErrors.JWTExpired)
        throw unauthenticated('The token has expired.', error)
      if (error instanceof joseErrors.JOSEError)
        throw unauthenticated('The token is not valid.', error)
      throw new AppError('unavailable', 'The identity provider could not be reached.', {
        cause: error,
      })
    }
    throw unauthenticated(`Tokens signed with ${String(algorithm)} are not accepted.`)
  }

  async #verifyExternal(token: string): Promise<TokenIdentity> {
    const external = this.#external as ExternalIdentityConfig
    const options = {
      algorithms: EXTERNAL_ALGORITHMS,
      requiredClaims: ['sub', 'exp'],
      ...(external.issuer !== undefined && { issuer: external.issuer }),
      ...(external.audience !== undefined && { audience: external.audience }),
    }
    const key = this.#externalKey
    const { payload } =
      typeof key === 'function'
        ? await jwtVerify(token, key, options)
        : await jwtVerify(token, key as KeyObject, options)
    return {
      kind: 'external',
      issuer: payload.iss ?? external.issuer ?? external.jwksUrl ?? 'external',
      subject: payload.sub as string,
      claims: payload,
      expiresAtMs: (payload.exp as number) * 1000,
    }
  }
}

function unauthenticated(detail: string, cause?: unknown): AppError {
  return new AppError('unauthenticated', detail, { cause })
}

/**
 * The configured secret, or one generated once and kept in the data folder so tokens survive a
 * restart. Returns where it came from, for the start-up log.
 */
export function loadOrCreateSecret(
  configured: string | undefined,
  dataDir: string,
): { secret: Uint8Array; source: 'environment' | 'generated' | 'data folder'; file?: string } {
  if (configured !== undefined)
    return { secret: new TextEncoder().encode(configured), source: 'environment' }
  const file = path.join(dataDir, 'jwt-secret')
  if (fs.existsSync(file)) {
    return {
      secret: new TextEncoder().encode(fs.readFileSync(file, 'utf8').trim()),
      source: 'data folder',
      file,
    }
  }
  fs.mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  try {
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    // Another process started at the same moment and wrote first: use its secret.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return loadOrCreateSecret(undefined, dataDir)
    throw error
  }
  return { secret: new TextEncoder().encode(secret), source: 'generated', file }
}
