import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestStore, type TestStore } from '../src/testing/test-app.js'
import { startServerProcess, type ServerProcess } from './support/server-process.js'

const run = promisify(execFile)
const GUIDE = path.resolve(import.meta.dirname, '../../shared/seed/000_b007816182164749.txt')

/** A fenced block of the integration guide, found by the heading above it. */
function guideBlock(heading: string): string {
  const text = fs.readFileSync(GUIDE, 'utf8')
  const start = text.indexOf(heading)
  const fence = text.indexOf('```bash\n', start)
  return text.slice(fence + '```bash\n'.length, text.indexOf('\n```', fence))
}

/**
 * The guide's shell snippets, run as written against the built server: only the token, and the
 * port where the test server listens, are filled in.
 */
describe('the guide’s shell snippets', () => {
  let store: TestStore
  let server: ServerProcess
  let dataDir: string
  let token: string
  const shell = (script: string) =>
    run('bash', ['-c', script.replaceAll('localhost:8000', `127.0.0.1:${server.port}`)], {
      timeout: 20_000,
    })

  beforeAll(async () => {
    store = await createTestStore()
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-curl-'))
    server = await startServerProcess({ ...store.databaseEnv, DATA_DIR: dataDir })
    const body = { email: 'user@example.com', password: 'password123' }
    const post = (url: string) =>
      fetch(`${server.url}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    await post('/api/v1/auth/register')
    token = ((await (await post('/api/v1/auth/login')).json()) as { access_token: string })
      .access_token
  })

  afterAll(async () => {
    await server?.stop()
    await store?.drop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it('Quick Start: the title and the ten chat endpoints', async () => {
    const title = await shell(guideBlock('### Server Running?'))
    const endpoints = await shell(guideBlock('### Chat Endpoints Available?'))

    expect(title.stdout.trim()).toBe('"SwipeSavvy Backend API"')
    expect(endpoints.stdout.trim().split('\n')).toEqual([
      '"/api/v1/chat/block"',
      '"/api/v1/chat/sessions"',
      '"/api/v1/chat/sessions/{session_id}"',
      '"/api/v1/chat/sessions/{session_id}/close"',
      '"/api/v1/chat/sessions/{session_id}/mark-read"',
      '"/api/v1/chat/sessions/{session_id}/messages"',
      '"/api/v1/chat/sessions/{session_id}/participants"',
      '"/api/v1/chat/unblock"',
      '"/api/v1/chat/ws"',
      '"/api/v1/chat/ws-stats"',
    ])
  })

  it('"Test with curl": creates a session, lists its messages and participants', async () => {
    const script = guideBlock('### Test with curl').replace(
      'TOKEN="your-jwt-token"',
      `TOKEN="${token}"`,
    )

    const { stdout } = await shell(script)

    const sessionId = /Created session: ([0-9a-f-]{36})/.exec(stdout)?.[1]
    expect(sessionId).toBeDefined()
    const [messages, participants] = stdout.slice(stdout.indexOf('\n') + 1).split(/\n(?=\[)/)
    expect(JSON.parse(messages!)).toEqual([])
    expect(JSON.parse(participants!)).toMatchObject([
      { role: 'user', is_active: true, is_online: false },
    ])
  })
})
