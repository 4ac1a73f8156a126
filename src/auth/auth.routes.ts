import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireRole, requireUser } from '../http/authenticate.js'
import { errorResponses } from '../http/schemas.js'
import {
  CreateUserBody,
  LoginBody,
  RegisterBody,
  TokenResponse,
  User,
  toUserView,
} from './auth.schemas.js'
import type { AuthService } from './auth.service.js'

/** `/api/v1/auth/*` and the admin's user management under `/api/v1/admin`. */
export function authRoutes(auth: AuthService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/auth/register',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create a customer account',
          body: RegisterBody,
          response: { 201: User, ...errorResponses },
        },
      },
      async (request, reply) => {
        const user = await auth.register(request.body, request.ip)
        return reply.status(201).send(toUserView(user))
      },
    )

    app.post(
      '/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Exchange email and password for a bearer token',
          body: LoginBody,
          response: { 200: TokenResponse, ...errorResponses },
        },
      },
      (request) => auth.login(request.body, request.ip),
    )

    app.get(
      '/auth/me',
      {
        onRequest: requireUser(auth),
        schema: {
          tags: ['auth'],
          summary: 'The caller',
          security: [{ bearer: [] }],
          response: { 200: User, ...errorResponses },
        },
      },
      (request) => toUserView(request.user),
    )

    app.post(
      '/admin/users',
      {
        onRequest: [requireUser(auth), requireRole('admin')],
        schema: {
          tags: ['admin'],
          summary: 'Create a user with any role (how agents are made)',
          security: [{ bearer: [] }],
          body: CreateUserBody,
          response: { 201: User, ...errorResponses },
        },
      },
      async (request, reply) => {
        const user = await auth.createUser(request.body)
        return reply.status(201).send(toUserView(user))
      },
    )
  }
}
