import { describeBus } from './bus.contract.js'
import { MemoryBus } from './bus-memory.js'

describeBus('memory', async () => {
  const bus = new MemoryBus()
  return { buses: [bus, bus], close: () => bus.close() }
})
