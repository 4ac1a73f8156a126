/**
 * Why the server closes a socket, and what a client should do about it. The guide's clients retry
 * only on 1011 and send the user to log in again on 1008; the SDK follows the same table.
 */
export const CloseCode = {
  /** The session was closed (after a `session_closed` frame). Do not reconnect to it. */
  SESSION_CLOSED: 1000,
  /** Refused: bad or expired token, unknown session, not a participant, closed session, origin not
   * allowed, too many sockets, sustained flooding. Reconnecting as is will be refused again. */
  REFUSED: 1008,
  /** A frame over 64 KiB. The client has a bug; reconnecting is fine. */
  FRAME_TOO_LARGE: 1009,
  /** A server fault, or this node shutting down ("server restarting"). Reconnect, with backoff,
   * and resume with `last_seq`: another node (or this one, restarted) serves the session. */
  SERVER_FAULT: 1011,
} as const

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** Reasons are sent to the client; the protocol caps them at 123 bytes. */
export const CloseReason = {
  invalidToken: 'invalid token',
  tokenExpired: 'token expired',
  sessionNotFound: 'session not found',
  notParticipant: 'not a participant',
  sessionClosed: 'session closed',
  originNotAllowed: 'origin not allowed',
  tooManySockets: 'too many connections',
  flooding: 'flooding',
  serverRestarting: 'server restarting',
  serverFault: 'server error',
} as const
