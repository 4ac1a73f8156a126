import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.js'

const load = (env: Record<string, string>) => loadConfig(env, '/srv/chat')

describe('configuration', () => {
  it('defaults to the embedded setup: port 8000, SQLite in ./data, no Redis', () => {
    const config = load({})

    expect(config.port).toBe(8000)
    expect(config.host).toBe('0.0.0.0')
    expect(config.database).toEqual({
      kind: 'sqlite',
      file: '/srv/chat/data/chat.db',
      synchronous: 'NORMAL',
    })
    expect(config.redisUrl).toBeUndefined()
    expect(config.wsAllowedOrigins).toEqual([])
  })

  it('reads PostgreSQL, Redis, lists and numbers', () => {
    const config = load({
      DATABASE_URL: 'postgres://chat@db:5432/chat',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 'x'.repeat(32),
      CORS_ORIGINS: 'https://portal.example.com, https://admin.example.com',
      MESSAGE_RATE_PER_SECOND: '2.5',
      PORT: '9000',
    })

    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgres://chat@db:5432/chat' })
    expect(config.corsOrigins).toEqual(['https://portal.example.com', 'https://admin.example.com'])
    expect(config.limits.messagesPerSecond).toBe(2.5)
    expect(config.port).toBe(9000)
  })

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://x', JWT_SECRET: 'x'.repeat(32) }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://x' }, 'JWT_SECRET'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ ALLOW_REGISTRATION: 'maybe' }, 'ALLOW_REGISTRATION'],
    [{ ADMIN_EMAIL: 'a@example.com' }, 'ADMIN_PASSWORD'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ JWT_PUBLIC_KEY: 'not a key' }, 'JWT_PUBLIC_KEY'],
    [{ MAX_SOCKETS_PER_USER: '0' }, 'MAX_SOCKETS_PER_USER'],
    [{ SQLITE_SYNCHRONOUS: 'OFF' }, 'SQLITE_SYNCHRONOUS'],
  ])('stops on %o with a sentence naming %s', (env, variable) => {
    let error: unknown
    try {
      load(env)
    } catch (e) {
      error = e
    }

    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).variable).toBe(variable)
    expect((error as ConfigError).message).toMatch(new RegExp(`^${variable} .+\\.$`))
  })
})
