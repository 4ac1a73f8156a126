import { describe } from 'vitest'
import { createLogger } from '../logger.js'
import { describeBus } from './bus.contract.js'
import { RedisBus } from './bus-redis.js'

const url = process.env.REDIS_URL

// Runs wherever REDIS_URL is set; CI sets it.
describe.runIf(url !== undefined)('redis', () => {
  describeBus('redis', async () => {
    const logger = createLogger('silent')
    const buses: [RedisBus, RedisBus] = [
      new RedisBus({ url: url!, nodeId: 'node-a', logger }),
      new RedisBus({ url: url!, nodeId: 'node-b', logger }),
    ]
    await Promise.all(buses.map((bus) => bus.ready()))
    return { buses, close: async () => void (await Promise.all(buses.map((bus) => bus.close()))) }
  })
})
