import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { capturedLogs } from '../testing/captured-logs.js'
import { TEST_JWT_SECRET, buildTestApp, type TestApp } from '../testing/test-app.js'

const register = (t: TestApp, body: unknown, ip = '10.0.0.1') =>
  t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: body as object,
    remoteAddress: ip,
  })
const login = (t: TestApp, body: unknown, ip = '10.0.0.1') =>
  t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: body as object,
    remoteAddress: ip,
  })
const me = (t: TestApp, token: string) =>
  t.app.inject({
    method: 'GET',
    url: '/api/v1/auth/me',
    headers: { authorization: `Bearer ${token}` },
  })

describe('accounts', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('registers a customer, logs in and answers me', async () => {
    t = await buildTestApp()

    const registered = await register(t, {
      email: 'Ana@Example.com',
      password: 'password123',
      full_name: 'Ana',
    })
    const loggedIn = await login(t, { email: 'ana@example.com', password: 'password123' })
    const token = loggedIn.json<{ access_token: string }>().access_token
    const self = await me(t, token)

    expect(registered.statusCode).toBe(201)
    expect(registered.json()).toMatchObject({
      email: 'ana@example.com',
      full_name: 'Ana',
      role: 'user',
    })
    expect(registered.json<{ created_at: string }>().created_at).toMatch(/Z$/)
    expect(loggedIn.statusCode).toBe(200)
    expect(loggedIn.json()).toMatchObject({ token_type: 'bearer', expires_in: 86400 })
    expect(self.json()).toEqual(registered.json())
  })

  it('refuses a second account for the same email, whatever its case', async () => {
    t = await buildTestApp()
    await register(t, { email: 'ana@example.com', password: 'password123' })

    const again = await register(t, { email: 'ANA@example.com', password: 'password456' })

    expect(again.statusCode).toBe(409)
    expect(again.json()).toEqual({ detail: expect.any(String), code: 'conflict' })
  })

  it('answers a wrong password and an unknown email alike', async () => {
    t = await buildTestApp()
    await register(t, { email: 'ana@example.com', password: 'password123' })

    const wrong = await login(t, { email: 'ana@example.com', password: 'nope-nope' })
    const unknown = await login(t, { email: 'bob@example.com', password: 'nope-nope' })

    expect(wrong.statusCode).toBe(401)
    expect(unknown.statusCode).toBe(401)
    expect(wrong.json()).toEqual(unknown.json())
  })

  it('checks password length', async () => {
    t = await buildTestApp()

    const short = await register(t, { email: 'ana@example.com', password: 'short' })
    const long = await register(t, { email: 'ana@example.com', password: 'x'.repeat(129) })

    expect(short.statusCode).toBe(400)
    expect(long.statusCode).toBe(400)
  })

  it('limits failed logins per email and address, not the same email from elsewhere', async () => {
    t = await buildTestApp({ env: { LOGIN_FAILURE_LIMIT: '3' } })
    await register(t, { email: 'agent@example.com', password: 'password123' })

    for (let i = 0; i < 3; i++)
      await login(t, { email: 'agent@example.com', password: 'wrong-guess' }, '10.9.9.9')
    const attacker = await login(
      t,
      { email: 'agent@example.com', password: 'password123' },
      '10.9.9.9',
    )
    const agent = await login(
      t,
      { email: 'agent@example.com', password: 'password123' },
      '10.0.0.2',
    )

    expect(attacker.statusCode).toBe(429)
    expect(attacker.json<{ code: string }>().code).toBe('rate_limited')
    expect(Number(attacker.headers['retry-after'])).toBeGreaterThan(0)
    expect(agent.statusCode).toBe(200)
  })

  it('limits logins and registrations per address', async () => {
    t = await buildTestApp({ env: { AUTH_RATE_PER_MINUTE: '2' } })

    await register(t, { email: 'a@example.com', password: 'password123' })
    await login(t, { email: 'a@example.com', password: 'password123' })
    const third = await login(t, { email: 'a@example.com', password: 'password123' })
    const elsewhere = await login(
      t,
      { email: 'a@example.com', password: 'password123' },
      '10.0.0.7',
    )

    expect(third.statusCode).toBe(429)
    expect(third.headers['retry-after']).toBeDefined()
    expect(elsewhere.statusCode).toBe(200)
  })

  it('turns registration off with ALLOW_REGISTRATION=false', async () => {
    t = await buildTestApp({ env: { ALLOW_REGISTRATION: 'false' } })

    const res = await register(t, { email: 'ana@example.com', password: 'password123' })

    expect(res.statusCode).toBe(403)
  })

  it('lets an admin create agents, and nobody else', async () => {
    t = await buildTestApp()
    const admin = await t.signUp('root', 'admin')
    const user = await t.signUp('ana')
    const body = {
      email: 'agent@example.com',
      password: 'password123',
      role: 'agent',
      full_name: 'Sam',
    }

    const byUser = await user.post('/api/v1/admin/users', body)
    const byAdmin = await admin.post('/api/v1/admin/users', body)
    const agentLogin = await login(t, { email: 'agent@example.com', password: 'password123' })

    expect(byUser.statusCode).toBe(403)
    expect(byAdmin.statusCode).toBe(201)
    expect(byAdmin.json()).toMatchObject({ role: 'agent', full_name: 'Sam' })
    expect(agentLogin.statusCode).toBe(200)
  })

  it('creates the ADMIN_EMAIL admin at start-up, once', async () => {
    t = await buildTestApp()
    const { AuthService } = await import('./auth.service.js')
    const auth = new AuthService({
      store: t.store,
      tokens: t.tokens,
      auth: t.config.auth,
      limits: t.config.limits,
    })

    const first = await auth.ensureAdmin({ email: 'boss@example.com', password: 'password123' })
    const second = await auth.ensureAdmin({ email: 'boss@example.com', password: 'password123' })
    const token = (await login(t, { email: 'boss@example.com', password: 'password123' })).json<{
      access_token: string
    }>()

    expect([first, second]).toEqual(['created', 'exists'])
    expect((await me(t, token.access_token)).json()).toMatchObject({ role: 'admin' })
  })

  it('takes the role from the user record, not from the token', async () => {
    t = await buildTestApp()
    const user = await t.signUp('ana')
    const forged = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET))

    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/chat/ws-stats',
      headers: { authorization: `Bearer ${forged}` },
    })

    expect(res.statusCode).toBe(403)
  })
})

describe('tokens', () => {
  let t: TestApp
  afterEach(() => t?.close())

  const secret = new TextEncoder().encode(TEST_JWT_SECRET)
  const unsigned = (payload: object) =>
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`

  it.each([
    ['no header', undefined],
    ['a non-bearer header', 'Basic abc'],
    ['garbage', 'Bearer not-a-jwt'],
  ])('refuses %s with 401', async (_name, header) => {
    t = await buildTestApp()

    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: header === undefined ? {} : { authorization: header },
    })

    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual({ detail: expect.any(String), code: 'unauthenticated' })
  })

  it('refuses alg none, a wrong algorithm, a bad signature and an expired token', async () => {
    t = await buildTestApp()
    const user = await t.signUp('ana')
    const now = Math.floor(Date.now() / 1000)
    const claims = { sub: user.id, role: 'user', iat: now, exp: now + 3600 }
    const none = unsigned(claims)
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(secret)
    const otherKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'))
    const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret)
    const tampered = user.token.slice(0, -4) + (user.token.endsWith('AAAA') ? 'BBBB' : 'AAAA')

    for (const token of [none, hs512, otherKey, expired, tampered]) {
      const res = await me(t, token)
      expect(res.statusCode, token).toBe(401)
    }
    expect((await me(t, user.token)).statusCode).toBe(200)
  })

  it('refuses a valid token of a user that no longer exists', async () => {
    t = await buildTestApp()
    const ghost = await t.tokens.issue({ id: '00000000-0000-4000-8000-000000000000', role: 'user' })

    expect((await me(t, ghost)).statusCode).toBe(401)
  })
})

describe('tokens from an outside identity provider', () => {
  let t: TestApp
  let jwks: Server | undefined
  afterEach(async () => {
    await t?.close()
    jwks?.close()
    jwks = undefined
  })

  async function keyPair() {
    return generateKeyPair('RS256', { extractable: true })
  }

  function sign(
    privateKey: CryptoKey,
    claims: Record<string, unknown>,
    options: { kid?: string } = {},
  ) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', ...(options.kid && { kid: options.kid }) })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey)
  }

  async function serveJwks(publicKey: CryptoKey): Promise<string> {
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    await new Promise<void>((resolve) => jwks!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`
  }

  it('accepts a JWKS-verified token and creates the user once, as a customer', async () => {
    const { publicKey, privateKey } = await keyPair()
    const url = await serveJwks(publicKey)
    t = await buildTestApp({
      env: { JWT_JWKS_URL: url, JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'chat' },
    })
    const token = await sign(
      privateKey,
      {
        sub: 'auth0|42',
        iss: 'https://id.example.com',
        aud: 'chat',
        role: 'admin',
        email: 'x@example.com',
      },
      { kid: 'k1' },
    )

    const first = await me(t, token)
    const second = await me(t, token)

    expect(first.statusCode).toBe(200)
    expect(first.json()).toMatchObject({ role: 'user', email: 'x@example.com' })
    expect(second.json<{ id: string }>().id).toBe(first.json<{ id: string }>().id)
    expect(first.json<{ id: string }>().id).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('checks issuer and audience', async () => {
    const { publicKey, privateKey } = await keyPair()
    const url = await serveJwks(publicKey)
    t = await buildTestApp({
      env: { JWT_JWKS_URL: url, JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'chat' },
    })

    const wrongIssuer = await sign(
      privateKey,
      { sub: 's', iss: 'https://evil.example.com', aud: 'chat' },
      { kid: 'k1' },
    )
    const wrongAudience = await sign(
      privateKey,
      { sub: 's', iss: 'https://id.example.com', aud: 'other' },
      { kid: 'k1' },
    )

    expect((await me(t, wrongIssuer)).statusCode).toBe(401)
    expect((await me(t, wrongAudience)).statusCode).toBe(401)
  })

  it('verifies with a configured public key and trusts JWT_ROLE_CLAIM for new users', async () => {
    const { publicKey, privateKey } = await keyPair()
    const stranger = await keyPair()
    t = await buildTestApp({
      env: {
        JWT_PUBLIC_KEY: await exportSPKI(publicKey),
        JWT_ROLE_CLAIM: 'chat_role',
        JWT_ISSUER: 'idp',
      },
    })

    const agent = await me(
      t,
      await sign(privateKey, { sub: 'agent-7', iss: 'idp', chat_role: 'agent' }),
    )
    const forged = await me(t, await sign(stranger.privateKey, { sub: 'agent-8', iss: 'idp' }))

    expect(agent.statusCode).toBe(200)
    expect(agent.json()).toMatchObject({ role: 'agent', email: null })
    expect(forged.statusCode).toBe(401)
  })

  it('still accepts our own HS256 tokens beside the outside ones', async () => {
    const { publicKey } = await keyPair()
    t = await buildTestApp({ env: { JWT_PUBLIC_KEY: await exportSPKI(publicKey) } })
    const user = await t.signUp('ana')

    expect((await me(t, user.token)).statusCode).toBe(200)
  })
})

describe('logs', () => {
  it('never contain a token', async () => {
    const logs = capturedLogs()
    const t = await buildTestApp({ logger: logs.logger })
    const user = await t.signUp('ana')

    await user.get('/api/v1/auth/me')
    await t.app.inject({ method: 'GET', url: `/api/v1/chat/sessions?token=${user.token}` })
    await t.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: 'Bearer broken.token.here' },
    })
    await t.close()

    expect(logs.text()).not.toBe('')
    expect(logs.text()).not.toContain(user.token)
    expect(logs.text()).not.toContain('broken.token.here')
  })
})
