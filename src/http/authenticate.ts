import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { AuthService } from '../auth/auth.service.js'
import { AppError, forbidden } from '../errors.js'
import type { Role, UserRecord } from '../store/store.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by `requireUser` on the routes that use it. */
    user: UserRecord
  }
}

/** The token of `Authorization: Bearer <token>`, if the header has that form. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return match?.[1]
}

/** An `onRequest` hook: 401 unless the request carries a valid token of an existing user. */
export function requireUser(auth: AuthService): onRequestAsyncHookHandler {
  return async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) {
      throw new AppError('unauthenticated', 'Send a token: Authorization: Bearer <token>.')
    }
    request.user = (await auth.authenticate(token)).user
  }
}

/** An `onRequest` hook after `requireUser`: 403 unless the caller has one of `roles`. */
export function requireRole(...roles: Role[]): onRequestAsyncHookHandler {
  return async (request: FastifyRequest) => {
    if (!roles.includes(request.user.role)) {
      throw forbidden(`Only ${roles.map((role) => `${role}s`).join(' and ')} may do this.`)
    }
  }
}
