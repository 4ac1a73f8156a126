import { forbidden, notFound } from '../errors.js'
import type { ParticipantRecord, SessionRecord, Store, UserRecord } from '../store/store.js'

export type Caller = Pick<UserRecord, 'id' | 'role'>

export const isStaff = (user: Pick<UserRecord, 'role'>) =>
  user.role === 'agent' || user.role === 'admin'

/** A participant who works for us: joined as an agent (or admin), not as the customer. */
export const isParticipatingAgent = (participant: ParticipantRecord | undefined) =>
  participant !== undefined && participant.role !== 'user'

export interface SessionAccess {
  session: SessionRecord
  /** Undefined for an admin reading a session they do not take part in. */
  participant: ParticipantRecord | undefined
}

/**
 * The session, if the caller may see it: participants may, admins may see any. 404 for an unknown
 * session, 403 for someone else's.
 */
export async function requireSessionAccess(
  store: Store,
  caller: Caller,
  sessionId: string,
): Promise<SessionAccess> {
  const [session, participant] = await Promise.all([
    store.sessions.findById(sessionId),
    store.participants.find(sessionId, caller.id),
  ])
  if (session === undefined) throw notFound('No chat session has this id.')
  if (participant === undefined && caller.role !== 'admin') {
    throw forbidden('You are not a participant in this session.')
  }
  return { session, participant }
}

/** Like `requireSessionAccess`, but the caller must take part (admins too): sending, reading. */
export async function requireParticipant(
  store: Store,
  caller: Caller,
  sessionId: string,
): Promise<SessionAccess & { participant: ParticipantRecord }> {
  const access = await requireSessionAccess(store, caller, sessionId)
  if (access.participant === undefined) {
    throw forbidden('You are not a participant in this session; add yourself first.')
  }
  return { session: access.session, participant: access.participant }
}
