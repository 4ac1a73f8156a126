import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema } from 'fastify'

const shared: Options = {
  allErrors: false,
  useDefaults: true,
  removeAdditional: false,
  strict: false,
}

/**
 * Two validators: query strings and path parameters arrive as text, so they are coerced
 * (`limit=50` is a number); JSON bodies are not, so a wrong type is a 400 instead of a guess
 * (ajv would otherwise turn `123` into `"123"`, or `null` into `""`).
 */
export function installValidation(app: FastifyInstance): void {
  const coercing = addFormats.default(new Ajv({ ...shared, coerceTypes: 'array' }))
  const strict = addFormats.default(new Ajv({ ...shared, coerceTypes: false }))
  app.setValidatorCompiler<FastifySchema>(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object),
  )
}
