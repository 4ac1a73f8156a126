import { newId } from '../ids.js'
import { badRequest, conflict, forbidden, notFound } from '../errors.js'
import type { ParticipantRecord, SessionRecord, Store, UserRecord } from '../store/store.js'
import { isParticipatingAgent, isStaff, requireSessionAccess, type Caller } from './chat-access.js'
import type { EventSink } from './chat-events.js'
import type {
  CreateSessionBody,
  ListSessionsQuery,
  Participant,
  PatchSessionBody,
  Session,
} from './chat.schemas.js'
import type { PresenceView } from './presence.js'
import { toParticipantView, toSessionView } from './views.js'

/** Chat sessions and who takes part in them. Throws `AppError`s; knows nothing of HTTP. */
export class SessionsService {
  constructor(
    private readonly store: Store,
    private readonly events: EventSink,
    private readonly presence: PresenceView,
    private readonly now: () => number = Date.now,
  ) {}

  async create(caller: UserRecord, body: CreateSessionBody): Promise<Session> {
    const agentId = body.assigned_agent_id ?? null
    const others = [...new Set(body.participant_ids ?? [])].filter(
      (id) => id !== caller.id && id !== agentId,
    )
    const agent = agentId === null ? undefined : await this.store.users.findById(agentId)
    if (agentId !== null && (agent === undefined || !isStaff(agent))) {
      throw badRequest('assigned_agent_id must name an agent or an admin.')
    }
    const invited = await this.store.users.findManyByIds(others)
    const missing = others.find((id) => !invited.some((user) => user.id === id))
    if (missing !== undefined) throw notFound(`No user has the id ${missing}.`)
    await this.#refuseIfAnyBlocks(caller, [
      ...invited.map((user) => user.id),
      ...(agentId ? [agentId] : []),
    ])

    const now = this.now()
    const session: SessionRecord = {
      id: newId(),
      title: body.title,
      status: 'active',
      initiator_id: caller.id,
      assigned_agent_id: agentId,
      created_at: now,
      started_at: null,
      closed_at: null,
      closed_by: null,
      last_seq: 0,
      last_message_at: null,
      last_activity_at: now,
    }
    const members: Array<Pick<ParticipantRecord, 'user_id' | 'role'>> = [
      { user_id: caller.id, role: caller.role },
      ...(agentId !== null ? [{ user_id: agentId, role: 'agent' as const }] : []),
      ...invited.map((user) => ({ user_id: user.id, role: user.role })),
    ]
    await this.store.transaction(async (store) => {
      await store.sessions.insert(session)
      for (const member of members)
        await store.participants.add(this.#newParticipant(session.id, member))
    })
    return toSessionView(session, 0)
  }

  async list(caller: UserRecord, query: ListSessionsQuery): Promise<Session[]> {
    const page = { limit: query.limit, offset: query.offset }
    let sessions: SessionRecord[]
    if (query.queue === 'unassigned') {
      if (!isStaff(caller)) throw forbidden('Only agents and admins can see the unassigned queue.')
      sessions = query.status === 'closed' ? [] : await this.store.sessions.listUnassigned(page)
    } else if (caller.role === 'admin') {
      sessions = await this.store.sessions.listAll({ ...page, status: query.status })
    } else {
      sessions = await this.store.sessions.listForParticipant(caller.id, {
        ...page,
        status: query.status,
      })
    }
    const hidden = (await this.store.blocks.listByBlocker(caller.id)).map((b) => b.blocked_id)
    const unread = await this.store.messages.unreadCounts(
      caller.id,
      sessions.map((s) => s.id),
      hidden,
    )
    return sessions.map((session) => toSessionView(session, unread.get(session.id) ?? 0))
  }

  async get(caller: UserRecord, sessionId: string): Promise<Session> {
    const { session } = await requireSessionAccess(this.store, caller, sessionId)
    return this.#view(caller, session)
  }

  async update(caller: UserRecord, sessionId: string, body: PatchSessionBody): Promise<Session> {
    const { session, participant } = await requireSessionAccess(this.store, caller, sessionId)
    if (caller.role !== 'admin' && !isParticipatingAgent(participant)) {
      throw forbidden('Only an agent of this session or an admin can change it.')
    }
    if (session.status === 'closed') throw conflict('The session is closed.')
    const patch: Parameters<Store['sessions']['update']>[1] = {}
    if (body.title != null) patch.title = body.title
    if (body.assigned_agent_id !== undefined) {
      const agentId = body.assigned_agent_id
      if (agentId !== null) {
        const agent = await this.store.users.findById(agentId)
        if (agent === undefined || !isStaff(agent)) {
          throw badRequest('assigned_agent_id must name an agent or an admin.')
        }
      }
      patch.assigned_agent_id = agentId
    }
    await this.store.transaction(async (store) => {
      await store.sessions.update(sessionId, patch)
      if (patch.assigned_agent_id) {
        await store.participants.add(
          this.#newParticipant(sessionId, { user_id: patch.assigned_agent_id, role: 'agent' }),
        )
      }
    })
    return this.#view(caller, { ...session, ...patch })
  }

  /** Idempotent: closing a closed session succeeds and announces nothing new. */
  async close(caller: UserRecord, sessionId: string): Promise<void> {
    const { session, participant } = await requireSessionAccess(this.store, caller, sessionId)
    const allowed =
      caller.role === 'admin' ||
      session.initiator_id === caller.id ||
      isParticipatingAgent(participant)
    if (!allowed)
      throw forbidden('Only the initiator, an agent of this session or an admin can close it.')
    const closedAt = this.now()
    if (await this.store.sessions.close(sessionId, caller.id, closedAt)) {
      this.events.publish({ type: 'session.closed', sessionId, closedBy: caller.id, closedAt })
    }
  }

  async participants(caller: UserRecord, sessionId: string): Promise<Participant[]> {
    await requireSessionAccess(this.store, caller, sessionId)
    const [participants, online] = await Promise.all([
      this.store.participants.list(sessionId),
      this.presence.onlineUsers(sessionId),
    ])
    return participants.map((p) => toParticipantView(p, online.has(p.user_id)))
  }

  /**
   * The initiator, an agent of the session and admins may add anyone; an agent may add themself
   * to an unassigned active session, which claims it. Returns whether the user was new.
   */
  async addParticipant(
    caller: UserRecord,
    sessionId: string,
    userId: string,
  ): Promise<{ participant: Participant; added: boolean }> {
    const [session, callerParticipant, user] = await Promise.all([
      this.store.sessions.findById(sessionId),
      this.store.participants.find(sessionId, caller.id),
      this.store.users.findById(userId),
    ])
    if (session === undefined) throw notFound('No chat session has this id.')
    if (callerParticipant === undefined && caller.role !== 'admin' && caller.id !== userId) {
      throw forbidden('You are not a participant in this session.')
    }
    if (user === undefined) throw notFound('No user has this id.')

    const existing = await this.store.participants.find(sessionId, userId)
    if (existing !== undefined)
      return { participant: await this.#participantView(existing), added: false }
    if (session.status === 'closed') throw conflict('The session is closed.')

    const claims = caller.id === userId && caller.role === 'agent'
    if (claims) {
      if (!(await this.store.sessions.claim(sessionId, caller.id))) {
        throw forbidden('This session already has an agent; ask them or an admin to add you.')
      }
    } else if (
      caller.role !== 'admin' &&
      session.initiator_id !== caller.id &&
      !isParticipatingAgent(callerParticipant)
    ) {
      throw forbidden(
        'Only the initiator, an agent of this session or an admin can add participants.',
      )
    }
    if (caller.id !== userId) await this.#refuseIfAnyBlocks(caller, [userId])

    const { participant, added } = await this.store.participants.add(
      this.#newParticipant(sessionId, { user_id: userId, role: claims ? 'agent' : user.role }),
    )
    return { participant: await this.#participantView(participant), added }
  }

  /** The caller's view of a session they may see. */
  async #view(caller: Caller, session: SessionRecord): Promise<Session> {
    const hidden = (await this.store.blocks.listByBlocker(caller.id)).map((b) => b.blocked_id)
    const unread = await this.store.messages.unreadCounts(caller.id, [session.id], hidden)
    return toSessionView(session, unread.get(session.id) ?? 0)
  }

  async #participantView(participant: ParticipantRecord): Promise<Participant> {
    const online = await this.presence.onlineUsers(participant.chat_session_id)
    return toParticipantView(participant, online.has(participant.user_id))
  }

  /** Someone who blocked the caller cannot be pulled into a session by them; they learn only 403. */
  async #refuseIfAnyBlocks(caller: Caller, userIds: string[]): Promise<void> {
    if (userIds.length === 0) return
    const blocks = await this.store.blocks.amongUsers([caller.id, ...userIds])
    if (blocks.some((block) => block.blocked_id === caller.id)) {
      throw forbidden('You cannot start or share a session with this user.')
    }
  }

  #newParticipant(
    sessionId: string,
    member: Pick<ParticipantRecord, 'user_id' | 'role'>,
  ): ParticipantRecord {
    return {
      id: newId(),
      chat_session_id: sessionId,
      user_id: member.user_id,
      role: member.role,
      joined_at: this.now(),
      left_at: null,
      last_read_seq: 0,
      last_read_at: null,
      last_delivered_seq: 0,
    }
  }
}
