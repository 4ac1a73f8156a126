/**
 * The one error vocabulary of the service. Services throw `AppError` with a stable code that
 * clients branch on; the HTTP edge maps the code to a status through this table, the socket edge
 * sends it in an `error` frame. The table is total: a code without a status does not compile.
 */
export const errorStatus = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  /** A `file` message whose `file_url` is not an absolute http(s) URL. */
  invalid_file_url: 400,
} as const satisfies Record<string, number>

export type ErrorCode = keyof typeof errorStatus

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    options?: ErrorOptions & { retryAfterSeconds?: number },
  ) {
    super(detail, options)
    this.name = 'AppError'
    this.retryAfterSeconds = options?.retryAfterSeconds
  }

  /** Seconds a rate-limited client should wait; sent as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined
}

export const badRequest = (detail: string) => new AppError('bad_request', detail)
export const forbidden = (detail: string) => new AppError('forbidden', detail)
export const notFound = (detail: string) => new AppError('not_found', detail)
export const conflict = (detail: string) => new AppError('conflict', detail)
