import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestStore, type TestStore } from '../src/testing/test-app.js'
import { readGuide, guideBlock } from './support/guide.js'
import { startServerProcess, type ServerProcess } from './support/server-process.js'

const run = promisify(execFile)

// The guide's snippets, pasted as written (its "Quick Start" and "Test with curl" sections); the
// last test checks that they still match the guide.
const SERVER_RUNNING = `# Check if server is running
curl -s http://localhost:8000/openapi.json | jq '.info.title'
# Output: "SwipeSavvy Backend API"`

const CHAT_ENDPOINTS = `# List all chat endpoints
curl -s http://localhost:8000/openapi.json | jq '.paths | keys[]' | grep chat`

const TEST_WITH_CURL = String.raw`#!/bin/bash

TOKEN="your-jwt-token"
SESSION_ID="your-session-id"

# Create session
SESSION=$(curl -s -X POST http://localhost:8000/api/v1/chat/sessions \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"title": "Test Chat"}')

SESSION_ID=$(echo $SESSION | jq -r '.id')
echo "Created session: $SESSION_ID"

# Get messages
curl -s "http://localhost:8000/api/v1/chat/sessions/$SESSION_ID/messages" \
  -H "Authorization: Bearer $TOKEN" | jq '.'

# Get participants
curl -s "http://localhost:8000/api/v1/chat/sessions/$SESSION_ID/participants" \
  -H "Authorization: Bearer $TOKEN" | jq '.'`

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
    const title = await shell(SERVER_RUNNING)
    const endpoints = await shell(CHAT_ENDPOINTS)

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
    const script = TEST_WITH_CURL.replace('TOKEN="your-jwt-token"', `TOKEN="${token}"`)

    const { stdout } = await shell(script)

    const sessionId = /Created session: ([0-9a-f-]{36})/.exec(stdout)?.[1]
    expect(sessionId).toBeDefined()
    const [messages, participants] = stdout.slice(stdout.indexOf('\n') + 1).split(/\n(?=\[)/)
    expect(JSON.parse(messages!)).toEqual([])
    expect(JSON.parse(participants!)).toMatchObject([
      { role: 'user', is_active: true, is_online: false },
    ])
  })

  it('pastes the guide’s snippets exactly', () => {
    const guide = readGuide()

    expect(SERVER_RUNNING).toBe(guideBlock(guide, '### Server Running?'))
    expect(CHAT_ENDPOINTS).toBe(guideBlock(guide, '### Chat Endpoints Available?'))
    expect(TEST_WITH_CURL).toBe(guideBlock(guide, '### Test with curl'))
  })
})
