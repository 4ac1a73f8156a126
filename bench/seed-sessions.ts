import type { Store } from '../src/store/store.js'
import { sessionRecord, userRecord } from '../src/testing/records.js'

export interface SessionOfTwo {
  id: string
  senders: [string, string]
}

/**
 * `count` active sessions of two users each, written straight into a store: what the tools that
 * feed the store alone (no server, no sockets) send their messages into. `newId` is passed in so a
 * compared build's store gets ids from its own code.
 */
export async function seedSessionsOfTwo(
  store: Store,
  count: number,
  title: string,
  newId: () => string,
): Promise<SessionOfTwo[]> {
  const sessions: SessionOfTwo[] = []
  for (let i = 0; i < count; i++) {
    const senders: [string, string] = [newId(), newId()]
    for (const id of senders) await store.users.insert(userRecord({ id }))
    const session = sessionRecord(senders[0], { id: newId(), title })
    await store.sessions.insert(session)
    sessions.push({ id: session.id, senders })
  }
  return sessions
}
