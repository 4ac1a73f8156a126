import type { Store } from '../src/store/store.js'

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
  const now = Date.now()
  const sessions: SessionOfTwo[] = []
  for (let i = 0; i < count; i++) {
    const senders: [string, string] = [newId(), newId()]
    for (const id of senders) {
      await store.users.insert({
        id,
        email: `${id}@bench.invalid`,
        full_name: null,
        role: 'user',
        password_hash: null,
        external_issuer: null,
        external_subject: null,
        created_at: now,
      })
    }
    const id = newId()
    await store.sessions.insert({
      id,
      title,
      status: 'active',
      initiator_id: senders[0],
      assigned_agent_id: null,
      created_at: now,
      started_at: null,
      closed_at: null,
      closed_by: null,
      last_seq: 0,
      last_message_at: null,
      last_activity_at: now,
    })
    sessions.push({ id, senders })
  }
  return sessions
}
