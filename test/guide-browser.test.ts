import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { readGuide } from './support/guide.js'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildTestApp, type TestApp } from '../src/testing/test-app.js'

/**
 * The guide's plain JavaScript client: the first code block under "JavaScript/Web Implementation"
 * in the integration guide, pasted unchanged (only `` ` `` and `${` are escaped for this template
 * literal). `guideClientFor` swaps in the server's address and the session id; the token comes
 * from `localStorage`, where the guide reads it.
 */
const GUIDE_CLIENT = `
// Initialize WebSocket
const token = localStorage.getItem('jwt_token');
const sessionId = 'your-chat-session-id';
const ws = new WebSocket(
  \`ws://localhost:8000/api/v1/chat/ws/\${sessionId}?token=\${token}\`
);

// Handle connection
ws.onopen = (event) => {
  console.log('Connected to chat');
};

// Handle messages
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  
  if (message.message_type === 'message') {
    console.log('New message:', message.content);
    // Update UI with message
  } else if (message.message_type === 'typing_indicator') {
    if (message.metadata.is_typing) {
      console.log(\`\${message.user_id} is typing...\`);
    }
  } else if (message.message_type === 'user_joined') {
    console.log(\`User joined. Total: \${message.metadata.total_users}\`);
  } else if (message.message_type === 'user_left') {
    console.log(\`User left. Total: \${message.metadata.total_users}\`);
  }
};

// Send message
function sendMessage(content) {
  const message = {
    message_type: 'text',
    content: content
  };
  ws.send(JSON.stringify(message));
}

// Send typing indicator
function setTyping(isTyping) {
  const message = {
    message_type: 'typing',
    content: isTyping ? 'true' : 'false'
  };
  ws.send(JSON.stringify(message));
}

// Handle disconnect
ws.onclose = (event) => {
  console.log('Disconnected from chat');
};

// Handle errors
ws.onerror = (error) => {
  console.error('WebSocket error:', error);
};
`

const ARTIFACTS = path.resolve(import.meta.dirname, 'artifacts')

/** Debian's Chromium, installed by .ci/system-packages; playwright-core never downloads one. */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const WAIT = { timeout: 10_000, interval: 50 }

interface GuidePage {
  name: string
  page: Page
  /** The page's console, one entry per call, as Chromium reports it. */
  lines: string[]
}

/** The functions the guide's client defines on the page's global object. */
interface GuideGlobals {
  sendMessage(content: string): void
  setTyping(isTyping: boolean): void
}

/** The guide's client aimed at this server and session; nothing else in it changes. */
function guideClientFor(chatPort: number, sessionId: string): string {
  const aimed = GUIDE_CLIENT.replace('ws://localhost:8000', `ws://127.0.0.1:${chatPort}`).replace(
    `const sessionId = 'your-chat-session-id';`,
    `const sessionId = '${sessionId}';`,
  )
  const changedLines = aimed.split('\n').filter((line, i) => line !== GUIDE_CLIENT.split('\n')[i])
  if (changedLines.length !== 2)
    throw new Error(`expected to change 2 lines: ${JSON.stringify(changedLines)}`)
  return aimed
}

/**
 * A page around the guide's client. The first script is the test's, not the guide's: it puts the
 * token where the guide reads it and writes each console line into the page, for the screenshot.
 */
function guidePage(name: string, token: string, client: string): string {
  return `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>Guide client: ${name}</title>
    <link rel="icon" href="data:," />
  </head>
  <body style="font: 16px sans-serif; margin: 24px">
    <h1 style="font-size: 20px">The guide's JavaScript client, signed in as ${name}</h1>
    <pre id="console" style="background: #f4f4f4; padding: 12px; white-space: pre-wrap"></pre>
    <script>
      {
        localStorage.setItem('jwt_token', ${JSON.stringify(token)})
        const shown = document.getElementById('console')
        for (const level of ['log', 'error']) {
          const original = console[level].bind(console)
          console[level] = (...args) => {
            shown.textContent += args.map(String).join(' ') + '\\n'
            original(...args)
          }
        }
        addEventListener('error', (event) => (shown.textContent += 'page error: ' + event.message + '\\n'))
      }
    </script>
    <script>
${client}
    </script>
  </body>
</html>
`
}

describe("the guide's JavaScript client in Chromium", () => {
  let t: TestApp
  let browser: Browser
  let pageServer: http.Server
  let pageOrigin: string
  const pages = new Map<string, string>()
  const opened: GuidePage[] = []

  beforeAll(async () => {
    pageServer = http.createServer((request, response) => {
      const html = pages.get(request.url ?? '')
      if (html === undefined) response.writeHead(404).end()
      else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
    })
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve))
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`
    t = await buildTestApp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    })
  }, 30_000)

  // Each page's last state goes to test/artifacts/, passed or failed, to look at.
  afterEach(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    for (const { name, page } of opened.splice(0)) {
      await page.screenshot({ path: path.join(ARTIFACTS, `guide-browser-${name}.png`) })
      await page.context().close()
    }
  })

  afterAll(async () => {
    await browser?.close()
    await t?.close()
    if (pageServer !== undefined) {
      pageServer.closeAllConnections()
      await new Promise((resolve) => pageServer.close(resolve))
    }
  }, 30_000)

  /** Opens the guide's page for one user in its own browser context, recording its console. */
  async function openGuidePage(name: string, token: string, sessionId: string): Promise<GuidePage> {
    const chatPort = (t.app.server.address() as AddressInfo).port
    pages.set(`/${name}`, guidePage(name, token, guideClientFor(chatPort, sessionId)))
    const context = await browser.newContext({ viewport: { width: 800, height: 400 } })
    const page = await context.newPage()
    const lines: string[] = []
    page.on('console', (message) => lines.push(message.text()))
    page.on('pageerror', (error) => lines.push(`page error: ${error.message}`))
    const open = { name, page, lines }
    opened.push(open)
    await page.goto(`${pageOrigin}/${name}`)
    return open
  }

  /** Waits for a console line; if it never comes, the error shows every line that did. */
  async function waitForLine(page: GuidePage, line: string): Promise<void> {
    await vi.waitFor(() => {
      if (!page.lines.includes(line)) {
        throw new Error(
          `${page.name}'s console has no ${JSON.stringify(line)}; it has ${JSON.stringify(page.lines, null, 2)}`,
        )
      }
    }, WAIT)
  }

  it('is the first JavaScript block of the guide, unchanged', () => {
    const guide = readGuide()
    const section = guide.slice(guide.indexOf('### 1. JavaScript/Web Implementation'))
    const block = /```javascript\n([\s\S]*?)```/.exec(section)?.[1]

    const trimmed = (code: string | undefined) => code?.replace(/[ \t]+$/gm, '').trim()

    expect(trimmed(GUIDE_CLIENT)).toBe(trimmed(block))
  })

  it('connects both users and carries a message from one page to the other', async () => {
    const ana = await t.signUp('ana')
    const sam = await t.signUp('sam', 'agent')
    const session = await ana.createSession({ title: 'Support Chat', assigned_agent_id: sam.id })
    const anaPage = await openGuidePage('ana', ana.token, session.id)
    await waitForLine(anaPage, 'User joined. Total: 1')
    const samPage = await openGuidePage('sam', sam.token, session.id)
    await waitForLine(anaPage, 'User joined. Total: 2')

    await anaPage.page.evaluate(
      (content) => (globalThis as unknown as GuideGlobals).sendMessage(content),
      'Hello from the browser',
    )

    await waitForLine(samPage, 'New message: Hello from the browser')
    await waitForLine(anaPage, 'New message: Hello from the browser')
    expect(anaPage.lines).toEqual([
      'Connected to chat',
      'User joined. Total: 1',
      'User joined. Total: 2',
      'New message: Hello from the browser',
    ])
    expect(samPage.lines).toEqual([
      'Connected to chat',
      'User joined. Total: 2',
      'New message: Hello from the browser',
    ])
  }, 30_000)
})
