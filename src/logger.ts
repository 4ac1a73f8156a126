import { pino, type Logger } from 'pino'

/**
 * The process logger. Request URLs are logged without their query string and the Authorization
 * header is never logged: tokens travel in both (`?token=` on the socket path).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string }) => ({
          method: req.method,
          url: stripQuery(req.url),
          remoteAddress: req.ip,
        }),
      },
      redact: { paths: ['req.headers.authorization', '*.token', 'token'], censor: '[redacted]' },
    },
    destination,
  )
}

export function stripQuery(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  const at = url.indexOf('?')
  return at === -1 ? url : url.slice(0, at)
}
