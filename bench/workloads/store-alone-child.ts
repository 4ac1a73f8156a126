/**
 * Stores messages through our SQLite store and nothing else (no sockets, no HTTP, no JSON), in
 * groups of `batch` as the group commit forms them under load, and prints what that cost: the
 * least CPU any server built on this store pays per message on this machine.
 *
 * Run by `store-alone.ts` in a process of its own, so `process.cpuUsage()` counts exactly this
 * work (the checkpoint worker thread included).
 *
 * argv: <server build's src folder> <data folder> <sessions> <batch> <messages>
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type * as IdsModule from '../../src/ids.js'
import type * as SqliteModule from '../../src/store/sqlite.js'
import type { NewMessage } from '../../src/store/store.js'
import { clientMessageId, textMessage } from '../message.js'
import type { StoreAloneResult } from '../results.js'
import { seedSessionsOfTwo } from '../seed-sessions.js'

const [buildDir, dataDir, sessionsArg, batchArg, messagesArg] = process.argv.slice(2)
const [sessionCount, batch, messages] = [sessionsArg, batchArg, messagesArg].map(Number) as [
  number,
  number,
  number,
]
const fromBuild = (file: string) => import(pathToFileURL(path.join(buildDir!, file)).href)
const { openSqliteStore } = (await fromBuild('store/sqlite.js')) as typeof SqliteModule
// Message ids as the server makes them (time-ordered, so their index grows at one end).
const { newId } = (await fromBuild('ids.js')) as typeof IdsModule
const store = await openSqliteStore({
  file: path.join(dataDir!, 'chat.db'),
  synchronous: 'NORMAL',
})

const sessions = await seedSessionsOfTwo(store, sessionCount, 'Store alone', newId)

let sent = 0
/** A message as the saturation workload's generator sends it: its clients take turns. */
function nextMessage(): NewMessage {
  const client = sent % (sessions.length * 2)
  const session = sessions[client >> 1]!
  sent += 1
  return textMessage({
    id: newId(),
    chat_session_id: session.id,
    sender_id: session.senders[client & 1]!,
    client_message_id: clientMessageId(sent),
    created_at: Date.now(),
  })
}

/** Appends started in one turn of the event loop are one group commit. */
async function storeAll(count: number): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    const group = Array.from({ length: Math.min(batch, count - done) }, () =>
      store.messages.append(nextMessage()),
    )
    for (const result of await Promise.all(group)) {
      if (result.outcome !== 'stored')
        throw new Error(`a message was not stored: ${result.outcome}`)
    }
  }
}

await storeAll(Math.min(messages, 2_000)) // warm-up: statements prepared, pages cached
const cpuBefore = process.cpuUsage()
const wallBefore = performance.now()
await storeAll(messages)
const cpu = process.cpuUsage(cpuBefore)
const wallMs = performance.now() - wallBefore
await store.close()

const result: StoreAloneResult = {
  database: 'sqlite',
  batch,
  messages,
  cpuMicrosPerMessage: (cpu.user + cpu.system) / messages,
  kernelMicrosPerMessage: cpu.system / messages,
  wallMicrosPerMessage: (wallMs * 1000) / messages,
}
process.stdout.write(`${JSON.stringify(result)}\n`)
