import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { ChatClient, type MessageFrame } from '../sdk/index.js'
import { createTestStore, type TestStore } from '../src/testing/test-app.js'
import { runCli, startServerProcess, type ServerProcess } from './support/server-process.js'
import { register } from './support/traffic.js'

describe('the swipesavvy-chat command', () => {
  let db: TestStore | undefined
  let server: ServerProcess | undefined
  let dataDir: string
  afterEach(async () => {
    await server?.stop('SIGKILL')
    server = undefined
    await db?.drop()
    db = undefined
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const env = () => ({ ...db!.databaseEnv, DATA_DIR: dataDir })

  it('creates an agent who can then log in to the server', async () => {
    db = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))

    const created = await runCli(
      [
        'users',
        'create',
        '--email',
        'Sam@Example.com',
        '--password',
        'password123',
        '--role',
        'agent',
      ],
      env(),
    )
    server = await startServerProcess(env())
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'sam@example.com', password: 'password123' }),
    })
    const token = ((await login.json()) as { access_token: string }).access_token
    const me = (await (
      await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { role: string }

    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/Created agent sam@example.com/)
    expect(me.role).toBe('agent')
  })

  it('refuses a bad role and a taken email with a sentence', async () => {
    db = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))
    await runCli(
      ['users', 'create', '--email', 'a@example.com', '--password', 'password123'],
      env(),
    )

    const badRole = await runCli(
      [
        'users',
        'create',
        '--email',
        'b@example.com',
        '--password',
        'password123',
        '--role',
        'boss',
      ],
      env(),
    )
    const taken = await runCli(
      ['users', 'create', '--email', 'a@example.com', '--password', 'password123'],
      env(),
    )

    expect(badRole.code).toBe(2)
    expect(badRole.stderr).toMatch(/--role must be one of user, agent, admin/)
    expect(taken.code).toBe(1)
    expect(taken.stderr).toMatch(/already exists/)
  })

  it('stops on a bad setting with a sentence naming the variable', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))

    const result = await runCli(['serve'], { DATA_DIR: dataDir, PORT: 'eighty' })

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^Configuration error: PORT must be a number/)
  })

  it('creates the ADMIN_EMAIL admin at start-up and keeps a generated secret across restarts', async () => {
    db = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))
    const withAdmin = { ...env(), ADMIN_EMAIL: 'boss@example.com', ADMIN_PASSWORD: 'password123' }

    server = await startServerProcess(withAdmin)
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'boss@example.com', password: 'password123' }),
    })
    const { access_token } = (await login.json()) as { access_token: string }
    expect(await server.stop('SIGTERM')).toBe(0)
    server = await startServerProcess(withAdmin)
    const me = await fetch(`${server.url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${access_token}` },
    })

    expect(me.status).toBe(200)
    expect(((await me.json()) as { role: string }).role).toBe('admin')
    expect(fs.existsSync(path.join(dataDir, 'jwt-secret'))).toBe(true)
    expect(server.logs.join('\n')).toMatch(/JWT secret read/)
  })

  it('stops on SIGTERM only after writing which messages its last second delivered', async () => {
    db = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))
    server = await startServerProcess(env())
    const [ana, ben] = await Promise.all([register(server.url, 'ana'), register(server.url, 'ben')])
    const session = await ana.rest.createSession({ title: 'Shutdown', participant_ids: [ben.id] })
    const client = new ChatClient({ baseUrl: server.url, token: ben.rest.token, WebSocket })
    const received = new Promise<MessageFrame>((resolve) => client.on('message', resolve))
    await client.join(session.id)

    await ana.rest.sendMessage(session.id, { content: 'Are you there?' })
    await received
    // At once: delivery marks are written once a second, so this one is still waiting.
    const code = await server.stop('SIGTERM')
    client.close()
    const stopLogs = server.logs.join('\n')
    server = await startServerProcess({ ...env(), PORT: String(server.port) })
    const [message] = await ana.rest.history(session.id)

    expect(code).toBe(0)
    expect(stopLogs).not.toMatch(/could not record deliveries/)
    expect(message?.status).toBe('delivered')
  })

  it('reads .env from the working directory, the environment winning over it', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-cli-'))
    const file = path.join(dataDir, 'from-dotenv.db')
    fs.writeFileSync(path.join(dataDir, '.env'), `DATABASE_URL=sqlite:${file}\nLOG_LEVEL=loud\n`)

    const migrated = await runCli(['migrate'], { LOG_LEVEL: 'info' }, dataDir)
    const refused = await runCli(['migrate'], {}, dataDir)

    expect(migrated.code).toBe(0)
    expect(fs.existsSync(file)).toBe(true)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^Configuration error: LOG_LEVEL must be one of/)
  })
})
