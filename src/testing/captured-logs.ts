import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { createLogger } from '../logger.js'

/** A debug-level logger whose lines a test can read back (to prove what never reaches the logs). */
export function capturedLogs(): { logger: Logger; text(): string } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: createLogger('debug', sink), text: () => lines.join('\n') }
}
