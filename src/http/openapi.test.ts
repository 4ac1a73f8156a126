import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../testing/test-app.js'

describe('the OpenAPI document', () => {
  let t: TestApp
  afterEach(() => t?.close())

  it('passes the guide’s Quick Start checks', async () => {
    t = await buildTestApp()

    const doc = (await t.app.inject('/openapi.json')).json<{
      info: { title: string }
      paths: object
    }>()
    // jq '.paths | keys[]' | grep chat
    const chatPaths = Object.keys(doc.paths)
      .sort()
      .filter((path) => path.includes('chat'))

    expect(doc.info.title).toBe('SwipeSavvy Backend API')
    expect(chatPaths).toEqual([
      '/api/v1/chat/block',
      '/api/v1/chat/sessions',
      '/api/v1/chat/sessions/{session_id}',
      '/api/v1/chat/sessions/{session_id}/close',
      '/api/v1/chat/sessions/{session_id}/mark-read',
      '/api/v1/chat/sessions/{session_id}/messages',
      '/api/v1/chat/sessions/{session_id}/participants',
      '/api/v1/chat/unblock',
      '/api/v1/chat/ws',
      '/api/v1/chat/ws-stats',
    ])
  })

  it('documents bodies, responses and bearer auth from the route schemas', async () => {
    t = await buildTestApp()

    const doc = (await t.app.inject('/openapi.json')).json<{
      paths: Record<
        string,
        Record<
          string,
          { requestBody?: unknown; responses: Record<string, unknown>; security?: unknown }
        >
      >
      components: { securitySchemes: object }
    }>()
    const create = doc.paths['/api/v1/chat/sessions']?.post

    expect(create?.requestBody).toBeDefined()
    expect(Object.keys(create?.responses ?? {})).toContain('201')
    expect(create?.security).toEqual([{ bearer: [] }])
    expect(doc.components.securitySchemes).toHaveProperty('bearer')
    expect(doc.paths).toHaveProperty('/api/v1/auth/login')
  })

  it('serves Swagger UI at /docs', async () => {
    t = await buildTestApp()

    const res = await t.app.inject('/docs/')

    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('swagger')
  })
})
