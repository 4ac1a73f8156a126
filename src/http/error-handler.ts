import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, errorStatus, type ErrorCode } from '../errors.js'
import { isStoreUnavailable } from '../store/store-errors.js'

/** Fastify's own 4xx errors, in our vocabulary. */
const fastifyCodes: Record<string, { code: ErrorCode; detail?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    detail: 'The request body is too large (64 KiB at most).',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'bad_request',
    detail: 'Send the body as JSON (Content-Type: application/json).',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'bad_request',
    detail: 'The Content-Length does not match the body.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'bad_request', detail: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'bad_request', detail: 'The body is not valid JSON.' },
}

/**
 * Every error leaves as `{detail, code}` with the status of `errorStatus`. An `AppError` says what
 * it is; a database that cannot be reached is `unavailable`; anything else is a bug, logged with its
 * cause and answered 500 without details.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, detail } = classify(error)
    if (code === 'internal') {
      request.log.error({ err: error }, 'unhandled error')
      return send(reply, 500, 'internal', 'Internal error.')
    }
    if (code === 'unavailable') request.log.warn({ err: error }, 'backing service unavailable')
    if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds))
    }
    return send(reply, errorStatus[code], code, detail)
  })

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    send(reply, 404, 'not_found', `There is no ${request.method} ${request.url.split('?')[0]}.`),
  )
}

/** The router's own refusals (a malformed escape, an over-long path segment), in our shape. */
export function refuseMalformedUrl(
  _error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  void send(reply, 400, 'bad_request', 'The URL is malformed.')
}

function classify(error: FastifyError): { code: ErrorCode | 'internal'; detail: string } {
  if (error instanceof AppError) return { code: error.code, detail: error.detail }
  if (error.validation !== undefined) {
    return { code: 'bad_request', detail: describeValidation(error) }
  }
  const known = fastifyCodes[error.code]
  if (known !== undefined) return { code: known.code, detail: known.detail ?? error.message }
  if (isStoreUnavailable(error)) {
    return {
      code: 'unavailable',
      detail: 'The database is not reachable right now; try again shortly.',
    }
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return { code: 'bad_request', detail: 'The request is malformed.' }
  }
  if (error.statusCode === 413)
    return { code: 'payload_too_large', detail: 'The request is too large.' }
  if (error.statusCode === 415) return { code: 'bad_request', detail: 'Send the body as JSON.' }
  return { code: 'internal', detail: '' }
}

/** "body/title must NOT have more than 200 characters" → "title must not have more than 200 characters." */
function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0]
  if (first === undefined) return error.message
  const where = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const part = error.validationContext ?? 'request'
  if (first.keyword === 'required') {
    return `${String(first.params.missingProperty)} is required in the ${part}.`
  }
  const subject = where === '' ? `the ${part}` : where
  const message = (first.message ?? 'is invalid').replace('must NOT', 'must not')
  return `${subject} ${message}.`
}

function send(reply: FastifyReply, status: number, code: string, detail: string) {
  return reply.status(status).send({ detail, code })
}
