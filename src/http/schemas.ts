import { Type, type TSchema } from '@sinclair/typebox'

/** Building blocks every route schema shares. */
export const Uuid = Type.String({ format: 'uuid', description: 'A UUID' })

export const Timestamp = Type.String({
  format: 'date-time',
  description: 'RFC 3339 in UTC, e.g. 2025-12-29T10:05:00.000Z',
})

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** An optional request field that also accepts `null` (the guide's clients send both). */
export const OptionalNullable = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema))

export const ErrorBody = Type.Object(
  {
    detail: Type.String({ description: 'What went wrong, for a person' }),
    code: Type.String({ description: 'Stable snake_case code to branch on' }),
  },
  { $id: 'ErrorBody' },
)

export const SuccessBody = Type.Object({
  success: Type.Boolean(),
  message: Type.String(),
})

/** Responses every authenticated route may give besides its own. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
}

let lastMs = Number.NaN
let lastIso = ''
/**
 * A time as ISO 8601. Remembers the last one: each message's frame and view is stamped with its
 * time, messages sent within the same millisecond share it, and formatting a date costs ten times
 * the lookup.
 */
export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}
export const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))
