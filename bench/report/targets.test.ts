import { describe, expect, it } from 'vitest'
import type {
  BenchResults,
  CommitAloneResult,
  IdleResult,
  SaturationResult,
  SaturationStep,
  ServerInfo,
  SteadyResult,
} from '../results.js'
import type { WaitHistogram } from '../servers/server-driver.js'
import { checkTargets } from './targets.js'

const SHAPE = { sessions: 500, clientsPerSession: 2 }

/** A held step: `messages` per second, two deliveries each, and what each process used. */
function held(
  messages: number,
  used: { server: number; generator: number; postgres?: number },
): SaturationStep {
  return {
    offeredPerSecond: messages,
    durationMs: 5_000,
    sentPerSecond: messages,
    deliveredPerSecond: messages * 2,
    p50Ms: 1,
    p99Ms: 10,
    maxMs: 20,
    sent: messages * 5,
    refused: 0,
    expected: messages * 10,
    delivered: messages * 10,
    lost: 0,
    duplicates: 0,
    late: 0,
    skipped: 0,
    errors: {},
    closes: {},
    serverCores: used.server,
    eventLoopCores: used.server / 2,
    generatorCores: used.generator,
    machineCores: 1.9,
    serviceCores: used.postgres === undefined ? {} : { postgres: used.postgres },
    serverRssBytes: 100 * 1024 * 1024,
    passed: true,
  }
}

function row(
  workload: SaturationResult['workload'],
  server: ServerInfo,
  step: SaturationStep,
): SaturationResult {
  return {
    workload,
    server,
    shape: SHAPE,
    drainMs: 2_000,
    steps: [step],
    held: step,
    stopReason: '',
  }
}

const ourPostgres: ServerInfo = {
  id: 'ours-postgres',
  label: 'swipesavvy-chat, PostgreSQL',
  kind: 'ours',
  nodes: 1,
  database: 'postgres',
  profiled: false,
}
const ourThreeNodes: ServerInfo = {
  ...ourPostgres,
  id: 'ours-postgres-redis-3',
  label: 'swipesavvy-chat, PostgreSQL, 3 nodes over Redis',
  nodes: 3,
}
const ourSqlite: ServerInfo = {
  ...ourPostgres,
  id: 'ours-sqlite',
  label: 'swipesavvy-chat, SQLite',
  database: 'sqlite',
}
const bareWs: ServerInfo = {
  id: 'bare-ws',
  label: 'bare ws',
  kind: 'bare-ws',
  nodes: 1,
  profiled: false,
}
/** The bare ws server storing in SQLite: the floor under a server that stores first. */
const storingFloor: ServerInfo = {
  ...bareWs,
  id: 'bare-ws-sqlite',
  label: 'bare ws storing in SQLite',
  kind: 'bare-ws-sqlite',
}
/** The bare ws server storing in PostgreSQL: its floor. */
const postgresFloor: ServerInfo = {
  ...bareWs,
  id: 'bare-ws-postgres',
  label: 'bare ws storing in PostgreSQL',
  kind: 'bare-ws-postgres',
  database: 'postgres',
}
const socketIoTwoNodes: ServerInfo = {
  id: 'socketio-redis-2',
  label: 'Socket.IO 4, 2 nodes over Redis',
  kind: 'socket.io',
  nodes: 2,
  profiled: false,
}

/**
 * A run whose one-node PostgreSQL row paid `postgresMicros` of PostgreSQL CPU per message, and
 * whose SQLite store alone paid `sqliteMicros` per message. Bare ws pays 10 µs of server CPU and
 * 10 µs of load generator per delivery, the generator's cheapest in the run.
 */
function results(postgresMicros: number, sqliteMicros = 30): BenchResults {
  return {
    startedAt: '',
    finishedAt: '',
    mode: 'full',
    command: 'npm run bench',
    revision: 'test',
    compared: [],
    cpuProfile: 'ours',
    profileRuns: [],
    machine: { cpuModel: 'test', cores: 2, memoryBytes: 1, node: 'v20', os: 'Linux' },
    fanOut: [],
    group: [],
    saturation: [
      row(
        'saturation',
        ourPostgres,
        held(5_000, { server: 0.6, generator: 0.25, postgres: (5_000 * postgresMicros) / 1e6 }),
      ),
      row('saturation', ourSqlite, held(5_000, { server: 0.9, generator: 0.25 })),
      row('saturation', bareWs, held(25_000, { server: 0.5, generator: 0.5 })),
    ],
    storeAlone: [
      {
        database: 'sqlite',
        batch: 10,
        messages: 1,
        cpuMicrosPerMessage: sqliteMicros * 1.5,
        kernelMicrosPerMessage: sqliteMicros / 2,
        wallMicrosPerMessage: 1,
      },
      {
        database: 'sqlite',
        batch: 100,
        messages: 1,
        cpuMicrosPerMessage: sqliteMicros,
        kernelMicrosPerMessage: sqliteMicros / 3,
        wallMicrosPerMessage: 1,
      },
    ],
    commitAlone: [],
    idle: [],
    history: [],
    scaleOut: [
      row('scale-out', socketIoTwoNodes, held(7_500, { server: 1.0, generator: 0.4 })),
      row('scale-out', ourThreeNodes, held(1_500, { server: 0.9, generator: 0.15, postgres: 0.6 })),
    ],
    nginxFanOut: [],
    nginxSaturation: [],
    notRun: [],
  }
}

const manyNodes = (run: BenchResults) =>
  checkTargets(run).find((check) => check.target.startsWith('Many nodes'))!

/** A store-wait histogram from `[bound in ms, messages within it]`, all counted by the last. */
function storeWait(buckets: [number, number][]): WaitHistogram {
  return {
    boundsMs: buckets.map(([bound]) => bound),
    atMost: buckets.map(([, within]) => within),
    count: buckets.at(-1)![1],
  }
}

const target = (run: BenchResults, name: string) =>
  checkTargets(run).find((check) => check.target === name)!

describe('the many-node target', () => {
  it('is beyond this machine when storing, sockets and load alone take more cores than there are', () => {
    // 2 × 15,000 deliveries/s = 15,000 messages/s: PostgreSQL 1.80 cores at 120 µs each, the
    // sockets 0.30 at bare ws's 10 µs per delivery, the generator 0.30 more: 2.40 of 2.
    const check = manyNodes(results(120))

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toContain('The target is 30,000 deliveries/s (15,000 messages/s)')
    expect(check.why).toContain('PostgreSQL alone 1.80 cores')
    expect(check.why).toContain("their sockets 0.30 (the bare ws server's 10 µs per delivery)")
    expect(check.why).toContain('storing would have to cost at most 93 µs per message')
  })

  it('is only not met when the machine could have paid for it', () => {
    const check = manyNodes(results(40))

    expect(check.status).toBe('not met')
    expect(check.why).not.toContain('beyond')
  })

  /**
   * The many-node target of a run where the bare ws server storing in PostgreSQL, on three nodes
   * over Redis, held `messages`/s (ours held 1,500, Socket.IO's two nodes 7,500).
   */
  const withFloorOnThreeNodes = (messages: number) => {
    const run = results(40)
    run.scaleOut.push(
      row(
        'scale-out',
        { ...postgresFloor, id: 'bare-ws-postgres-redis-3', nodes: 3 },
        held(messages, { server: 0.8, generator: 0.2, postgres: 0.7 }),
      ),
    )
    return manyNodes(run)
  }

  it('is beyond this machine when even the bare ws server storing first on as many nodes held less than asked', () => {
    // Socket.IO's two nodes held 15,000 deliveries/s: 2× is 30,000. The floor held 4,000, ours 3,000.
    const check = withFloorOnThreeNodes(2_000)

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toMatch(
      /^Even the bare ws server storing each message in PostgreSQL first, on 3 nodes relaying its broadcasts through Redis, the least storing can add \(below\), held 4,000 deliveries\/s, under the 30,000 this target asks for/,
    )
    expect(check.why).toContain(
      "on 3 nodes relaying its broadcasts through Redis, held 4,000 deliveries/s (0.27× Socket.IO's 2 nodes)",
    )
    expect(check.why).toContain('ours held 0.75× what it did.')
  })

  it('is only not met when ours held well under what that floor held', () => {
    const check = withFloorOnThreeNodes(4_000)

    expect(check.status).toBe('not met')
    expect(check.why).toContain(
      "Ours held only 0.38× what that server did, more than storing explains: the rest of the gap is our server's own work.",
    )
  })

  it("sets what PostgreSQL did per message for ours beside the floor's, when it could say", () => {
    const run = results(40)
    const floor = row(
      'scale-out',
      { ...postgresFloor, id: 'bare-ws-postgres-redis-3', nodes: 3 },
      held(4_000, { server: 0.8, generator: 0.2, postgres: 0.3 }),
    )
    run.scaleOut.push(floor)
    const withoutCounts = manyNodes(run).why
    // Ours stored 7,500 messages in its window at 1,500/s; the floor 20,000 at 4,000/s.
    const ours = run.scaleOut.find((candidate) => candidate.server.id === ourThreeNodes.id)!
    ours.held!.postgresWork = {
      commits: 3_000,
      rowsUpdated: 15_000,
      walRecords: 75_000,
      walBytes: 7_500_000,
    }
    floor.held!.postgresWork = {
      commits: 10_000,
      rowsUpdated: 0,
      walRecords: 50_000,
      walBytes: 6_000_000,
    }

    expect(withoutCounts).not.toContain('PostgreSQL counted')
    expect(manyNodes(run).why).toContain(
      'Per message stored, PostgreSQL counted 10.0 log records (1,000 bytes), 2.00 row updates ' +
        'and 0.40 commits for ours, and 2.5 log records (300 bytes), 0.00 row updates and 0.50 ' +
        'commits for the bare ws server storing in it (its own statistics over the window, drain ' +
        'included).',
    )
  })

  it('is not priced by the one-node floor of the saturation search', () => {
    const run = results(40)
    run.saturation.push(
      row('saturation', postgresFloor, held(1_000, { server: 1, generator: 0.3 })),
    )

    expect(manyNodes(run).status).toBe('not met')
    expect(manyNodes(run).why).not.toContain('Even the bare ws server')
  })
})

describe('the saturation targets', () => {
  const vsBareWs = 'Saturation on SQLite vs bare ws'

  it('price SQLite at what our store alone paid per message, at its cheapest batch', () => {
    // 0.6 × 50,000 = 30,000 deliveries/s, 15,000 messages/s: storing 1.50 cores at 100 µs,
    // sockets 0.30, generator 0.30: 2.10 of 2.
    const check = target(results(120, 100), vsBareWs)

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toContain(
      'our SQLite store alone 1.50 cores (100 µs per message, 100 messages per commit',
    )
  })

  it('are not met, and not beyond, when the floor fits the machine', () => {
    const check = target(results(120, 30), vsBareWs)

    expect(check.status).toBe('not met')
    expect(check.why).not.toContain('beyond')
  })

  it('name the busiest thread beside the event loop, where it was measured', () => {
    const run = results(120, 30)
    const sqlite = run.saturation.find((row) => row.server.id === 'ours-sqlite')!
    const before = target(run, vsBareWs).why

    sqlite.held!.otherThreadCores = 0.4

    expect(before).toContain('server 0.90 cores (busiest event loop 0.45)')
    expect(target(run, vsBareWs).why).toContain(
      'server 0.90 cores (busiest event loop 0.45, busiest other thread 0.40)',
    )
  })

  it('blame the event loop, not waiting, when it ran or waited for a core all the time', () => {
    const run = results(120, 30)
    const sqlite = run.saturation.find((row) => row.server.id === 'ours-sqlite')!
    const failing: SaturationStep = {
      ...sqlite.held!,
      offeredPerSecond: 6_000,
      p99Ms: 150,
      passed: false,
      eventLoopCores: 0.6,
      machineCores: 1.4,
    }
    sqlite.steps.push(failing)
    const unknownWait = target(run, vsBareWs).why

    failing.eventLoopWaitCores = 0.35
    const why = target(run, vsBareWs).why

    expect(unknownWait).toContain('CPU was left over (busiest event loop 60% busy')
    expect(why).toContain('busiest event loop 0.60 and waiting for a core 0.35')
    expect(why).toContain(
      "the server's event loop ran 60% of the time and waited for a core 35%: it was never idle",
    )
    expect(why).not.toContain('left over')

    // A full machine explains the wait by itself.
    failing.machineCores = 1.9
    expect(target(run, vsBareWs).why).toContain("the machine's 2 cores were full (1.90 busy)")
  })

  it("give the server's own time from taking up a send to its commit, at the held and the failing step", () => {
    const run = results(120, 30)
    const sqlite = run.saturation.find((row) => row.server.id === 'ours-sqlite')!
    const counters = { outOfOrder: 0, gapReads: 0, gapMessages: 0, eventLoopDelayMaxMs: 12 }
    sqlite.held!.serverCounters = counters
    expect(target(run, vsBareWs).why).toContain('longest event-loop delay 12 ms.')

    // 1,000 messages: 985 within 25 ms, 995 within 50: the 99th is between the two.
    sqlite.held!.serverCounters = {
      ...counters,
      storeWait: storeWait([
        [25, 985],
        [50, 995],
      ]),
    }
    expect(target(run, vsBareWs).why).toContain(
      'longest event-loop delay 12 ms; from taking up a send to its commit, p99 between 25 and 50 ms.',
    )

    // Past the last bound: only how long it was at least.
    sqlite.held!.serverCounters = {
      ...counters,
      storeWait: { boundsMs: [25, 50], atMost: [900, 950], count: 1_000 },
    }
    expect(target(run, vsBareWs).why).toContain('commit, p99 over 50 ms.')
  })

  it('set the bare ws server storing in SQLite beside ours, on SQLite only', () => {
    const run = results(120, 30)
    const withoutFloor = target(run, vsBareWs).why
    run.saturation.push(
      row('saturation', storingFloor, held(10_000, { server: 1, generator: 0.3 })),
    )

    expect(withoutFloor).not.toContain('storing each message in SQLite')
    // 20,000 deliveries/s against bare ws's 50,000; ours held 10,000.
    expect(target(run, vsBareWs).why).toContain(
      'no checkpoint during the run: the least storing can add) held 20,000 deliveries/s ' +
        '(0.40× bare ws); ours held 0.50× what it did.',
    )
    expect(target(run, 'Saturation on PostgreSQL vs bare ws').why).not.toContain(
      'storing each message in SQLite',
    )
  })

  it('are beyond this machine when even the bare ws server storing first held less than asked', () => {
    const run = results(120, 30)
    // Bare ws held 50,000 deliveries/s: 0.6× is 30,000; the floor held 14,000, ours 10,000.
    run.saturation.push(row('saturation', storingFloor, held(7_000, { server: 1, generator: 0.3 })))
    const check = target(run, vsBareWs)

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toMatch(
      /^Even the bare ws server storing each message in SQLite first, the least storing can add \(below\), held 14,000 deliveries\/s, under the 30,000 this target asks for/,
    )
    expect(target(run, 'Saturation on PostgreSQL vs bare ws').why).not.toContain(
      'storing each message in SQLite first',
    )
  })

  it('are only not met when ours held well under what even that floor held', () => {
    const run = results(120, 30)
    // The floor held 20,000 deliveries/s, short of the 30,000 asked; ours held half of it.
    run.saturation.push(
      row('saturation', storingFloor, held(10_000, { server: 1, generator: 0.3 })),
    )
    const check = target(run, vsBareWs)

    expect(check.status).toBe('not met')
    expect(check.why).toMatch(
      /^Even the bare ws server storing each message in SQLite first, .* held 20,000 deliveries\/s, under the 30,000 this target asks for: .* Ours held only 0\.50× what that server did, more than storing explains: the rest of the gap is our server's own work\./,
    )
  })

  it('are not priced by a floor that held less than ours: that run of it was held back by something else', () => {
    const run = results(120, 30)
    // The floor held 8,000 deliveries/s, under the 30,000 asked and under ours' 10,000.
    run.saturation.push(row('saturation', storingFloor, held(4_000, { server: 1, generator: 0.3 })))
    const check = target(run, vsBareWs)

    expect(check.status).toBe('not met')
    expect(check.why).not.toMatch(/^Even the bare ws server/)
    expect(check.why).toContain('held 8,000 deliveries/s')
  })

  it('are only not met when the bare ws server storing first held what was asked', () => {
    const run = results(120, 30)
    run.saturation.push(
      row('saturation', storingFloor, held(15_000, { server: 1, generator: 0.3 })),
    )

    expect(target(run, vsBareWs).status).toBe('not met')
  })

  it('on PostgreSQL are reported with no bar: the issue sets the bars for SQLite', () => {
    const run = results(120)
    const onPostgres = checkTargets(run).filter((check) =>
      check.target.startsWith('Saturation on PostgreSQL'),
    )

    // This run has no Socket.IO row: that ratio was not measured, and says so.
    expect(onPostgres.map((check) => [check.status, check.required])).toEqual([
      ['informational', "none (reported; ≥ 0.6× is SQLite's bar)"],
      ['not run', '≥ 1.2×'],
    ])
    expect(onPostgres[0]!.measured).toBe('0.20× (10,000 vs 50,000 deliveries/s)')
    expect(target(run, vsBareWs).status).toBe('not met')
  })

  it('price PostgreSQL at its process CPU per message', () => {
    // 15,000 messages/s at 120 µs: 1.80 cores, with sockets and generator 2.40 of 2.
    expect(target(results(120), 'Saturation on PostgreSQL vs bare ws').why).toContain(
      'PostgreSQL alone 1.80 cores',
    )
    expect(target(results(40), 'Saturation on PostgreSQL vs bare ws').why).not.toContain(
      'PostgreSQL alone',
    )
  })

  it('price PostgreSQL at what it paid for the bare ws server storing in it, when that was less', () => {
    const run = results(120)
    // 20,000 messages/s at 0.4 cores of PostgreSQL: 20 µs per message.
    run.saturation.push(
      row('saturation', postgresFloor, held(20_000, { server: 1, generator: 0.3, postgres: 0.4 })),
    )
    const check = target(run, 'Saturation on PostgreSQL vs bare ws')

    expect(check.status).toBe('informational')
    expect(check.why).toContain(
      "PostgreSQL's defaults: the least storing can add) held 40,000 deliveries/s " +
        '(0.80× bare ws); ours held 0.25× what it did.',
    )
    expect(target(run, vsBareWs).why).not.toContain('storing each message in PostgreSQL')
  })
})

describe('the fan-out targets', () => {
  const socketIo: ServerInfo = {
    ...bareWs,
    id: 'socketio',
    label: 'Socket.IO 4',
    kind: 'socket.io',
  }
  const fanOut = (server: ServerInfo, p99Ms: number): SteadyResult => ({
    workload: 'fan-out',
    server,
    shape: SHAPE,
    ratePerClient: 2,
    drainMs: 10_000,
    sockets: 1_000,
    openFailures: {},
    measured: { ...held(2_000, { server: 0.4, generator: 0.1 }), p99Ms },
  })
  const commit = (database: 'sqlite' | 'postgres', p99Ms: number): CommitAloneResult => ({
    database,
    commits: 5_000,
    p50Ms: p99Ms / 4,
    p99Ms,
    maxMs: p99Ms * 3,
  })
  /** Socket.IO's p99 is 0.6 ms; ours 3 ms on both databases. */
  const run = (commits: CommitAloneResult[]): BenchResults => ({
    ...results(40),
    fanOut: [fanOut(ourSqlite, 3), fanOut(ourPostgres, 3), fanOut(socketIo, 0.6)],
    commitAlone: commits,
  })

  it("are beyond this machine when one commit alone outlasts Socket.IO's whole p99", () => {
    const check = target(run([commit('postgres', 2.2)]), 'Fan-out p99 on PostgreSQL vs Socket.IO')

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toContain(
      "1% of PostgreSQL's commits alone took longer than Socket.IO's whole p99 (0.60 ms)",
    )
    expect(check.why).toContain('a commit waits for its log to reach the disk')
    // The commit's own figures are given once.
    expect(check.why?.split('p99 2.20 ms')).toHaveLength(2)
  })

  it('are only not met when commits alone are quicker, and say how quick', () => {
    const check = target(run([commit('sqlite', 0.3)]), 'Fan-out p99 on SQLite vs Socket.IO')

    expect(check.status).toBe('not met')
    expect(check.why).toContain('SQLite alone, committing one message-sized row at a time')
    expect(check.why).toContain('p99 0.30 ms per commit')
  })

  it('set the store at one message per commit against our CPU per message, on SQLite', () => {
    const onePerCommit = {
      database: 'sqlite' as const,
      batch: 1,
      messages: 10_000,
      cpuMicrosPerMessage: 130,
      kernelMicrosPerMessage: 60,
      wallMicrosPerMessage: 140,
    }
    const measured = { ...run([]), storeAlone: [onePerCommit] }

    const sqlite = target(measured, 'Fan-out p99 on SQLite vs Socket.IO')
    expect(sqlite.status).toBe('not met')
    expect(sqlite.why).toContain(
      'Our store alone, one message per commit with nothing else in its process, spent 130 µs ' +
        'of CPU per message (60 µs of it in the kernel); our whole server spent 200 µs per ' +
        'message here.',
    )
    // The store alone is SQLite's.
    const postgres = target(measured, 'Fan-out p99 on PostgreSQL vs Socket.IO').why
    expect(postgres).not.toContain('one message per commit')
  })

  it("count the messages whose commit alone came later than Socket.IO's whole p99", () => {
    const measured = run([])
    const ours = measured.fanOut.find((row) => row.server.id === 'ours-sqlite')!.measured
    const counters = { outOfOrder: 0, gapReads: 0, gapMessages: 0, eventLoopDelayMaxMs: 5 }

    // Of 1,000 messages, 30 took more than 1 ms, the first bound past Socket.IO's 0.6 ms.
    ours.serverCounters = {
      ...counters,
      storeWait: storeWait([
        [0.5, 900],
        [1, 970],
        [2.5, 992],
        [5, 1_000],
      ]),
    }
    expect(target(measured, 'Fan-out p99 on SQLite vs Socket.IO').why).toContain(
      'On our server, the time from taking up a send to its commit (its own `chat_message_store_seconds`, ' +
        'which on one node also covers the broadcast of the messages committed with it) had its p99 ' +
        "between 1 and 2.5 ms, and 3.0% of messages waited more than 1 ms, longer than Socket.IO's " +
        'whole p99 (0.60 ms): more than the 1% a p99 leaves.',
    )

    // 1% or fewer past it: the figure, and no verdict.
    ours.serverCounters = {
      ...counters,
      storeWait: storeWait([
        [0.5, 992],
        [1, 995],
        [2.5, 1_000],
      ]),
    }
    const few = target(measured, 'Fan-out p99 on SQLite vs Socket.IO').why
    expect(few).toContain('had its p99 within 0.5 ms, and 0.5% of messages waited more than 1 ms.')
    expect(few).not.toContain('a p99 leaves')

    // A build without the histogram says nothing of it.
    ours.serverCounters = counters
    expect(target(measured, 'Fan-out p99 on SQLite vs Socket.IO').why).not.toContain(
      'chat_message_store_seconds',
    )
  })

  it('set our p99 with the files on tmpfs beside the one on disk, on SQLite only', () => {
    const onTmpfs: ServerInfo = {
      ...ourSqlite,
      id: 'ours-sqlite-tmpfs',
      label: 'swipesavvy-chat, SQLite on tmpfs',
    }
    const measured = run([])
    measured.fanOut.push(fanOut(onTmpfs, 1.5))

    const sqlite = target(measured, 'Fan-out p99 on SQLite vs Socket.IO')
    // The row on disk, not the one on tmpfs, is the one set against the target.
    expect(sqlite.measured).toBe('3.00 ms vs 0.60 ms')
    expect(sqlite.why).toContain(
      'With its files on tmpfs (in memory: the same commits, nothing written to the disk), our ' +
        "server's p99 was 1.50 ms against 3.00 ms on disk, at 0.40 cores.",
    )
    expect(target(measured, 'Fan-out p99 on PostgreSQL vs Socket.IO').why).not.toContain('tmpfs')
    expect(target(run([]), 'Fan-out p99 on SQLite vs Socket.IO').why).not.toContain('tmpfs')
  })

  /** `run([])` with bare ws storing in SQLite at `p99Ms`, on 0.2 cores to our 0.4: half our CPU. */
  const withStoringFloor = (p99Ms: number): BenchResults => {
    const measured = run([])
    const floor = fanOut(storingFloor, p99Ms)
    floor.measured.serverCores = 0.2
    measured.fanOut.push(floor)
    return measured
  }

  it('say whether storing alone, in the bare ws server, leaves room under Socket.IO p99', () => {
    const measured = withStoringFloor(0.5)

    const sqlite = target(measured, 'Fan-out p99 on SQLite vs Socket.IO')
    expect(sqlite.status).toBe('not met')
    expect(sqlite.why).toContain(
      'no checkpoint during the run: the least storing can add) had p99 0.50 ms at 0.20 cores, ' +
        "under Socket.IO's: storing itself leaves room here, so the rest of our gap is our " +
        "server's own work (ours spent 2.00× that server's CPU per delivery).",
    )
    const postgres = target(measured, 'Fan-out p99 on PostgreSQL vs Socket.IO')
    expect(postgres.status).toBe('not met')
    expect(postgres.why).not.toContain('storing each message in SQLite')
  })

  it("are beyond this machine on SQLite when storing alone took the bare ws server past Socket.IO's p99", () => {
    const measured = withStoringFloor(2.5)

    const sqlite = target(measured, 'Fan-out p99 on SQLite vs Socket.IO')
    expect(sqlite.status).toBe('beyond this machine')
    expect(sqlite.why).toMatch(
      /^Even the bare ws server storing each message in SQLite first, the least storing can add \(below\), had its p99 past Socket.IO's \(2.50 ms against 0.60 ms\)/,
    )
    expect(sqlite.why).toContain(
      "had p99 2.50 ms at 0.20 cores (ours spent 2.00× that server's CPU per delivery).",
    )
    // The floor is SQLite's: PostgreSQL's verdict does not hang on it.
    expect(target(measured, 'Fan-out p99 on PostgreSQL vs Socket.IO').status).toBe('not met')
  })

  it("are beyond this machine on PostgreSQL when storing alone took the bare ws server past Socket.IO's p99", () => {
    const measured = run([])
    measured.fanOut.push(fanOut(postgresFloor, 2.5))

    const postgres = target(measured, 'Fan-out p99 on PostgreSQL vs Socket.IO')
    expect(postgres.status).toBe('beyond this machine')
    expect(postgres.why).toMatch(
      /^Even the bare ws server storing each message in PostgreSQL first, the least storing can add \(below\), had its p99 past Socket.IO's \(2.50 ms against 0.60 ms\)/,
    )
    expect(target(measured, 'Fan-out p99 on SQLite vs Socket.IO').status).toBe('not met')
  })

  it("are only not met when ours had well past even that floor's p99", () => {
    const measured = withStoringFloor(0.9)

    const sqlite = target(measured, 'Fan-out p99 on SQLite vs Socket.IO')
    expect(sqlite.status).toBe('not met')
    expect(sqlite.why).toMatch(
      /^Even the bare ws server storing each message in SQLite first, .* had its p99 past Socket.IO's \(0.90 ms against 0.60 ms\): .* Ours had 3\.33× that server's p99, more than storing explains: the rest of the gap is our server's own work\./,
    )
  })

  it('are not priced by a floor whose p99 was past ours: that run of it stalled on something else', () => {
    const sqlite = target(withStoringFloor(3.5), 'Fan-out p99 on SQLite vs Socket.IO')

    expect(sqlite.status).toBe('not met')
    expect(sqlite.why).not.toMatch(/^Even the bare ws server/)
    expect(sqlite.why).toContain('had p99 3.50 ms')
  })

  it('are not met, with no floor, when commits were not measured', () => {
    const check = target(run([]), 'Fan-out p99 on PostgreSQL vs Socket.IO')

    expect(check.status).toBe('not met')
    expect(check.why).not.toContain('commit')
  })
})

describe('the idle targets', () => {
  const FIFTY_THOUSAND = 'Idle: 50,000 sockets held by one node'
  /** 50,000 sockets asked for, and what the server's open-files limit let the run open. */
  function idle(row: Partial<IdleResult>): BenchResults {
    return {
      ...results(40),
      idle: [
        {
          server: ourSqlite,
          requested: 50_000,
          held: 19_744,
          openFailures: {},
          openMs: 1,
          rssBeforeBytes: 0,
          rssAfterBytes: 19_744 * 7 * 1024,
          bytesPerSocket: 7 * 1024,
          serverOpenFilesLimit: 20_000,
          sourceAddresses: 2,
          note: '50,000 requested; the server process may open 20,000 files',
          ...row,
        },
      ],
    }
  }

  it('are beyond this machine when every socket its open-files limit allows was held', () => {
    const check = target(idle({}), FIFTY_THOUSAND)

    expect(check.status).toBe('beyond this machine')
    expect(check.why).toContain('may open 20,000 files: its hard limit')
    expect(check.why).toContain('50,000 sockets would take about')
  })

  it('are not met when sockets the limit allowed failed to open', () => {
    const check = target(idle({ held: 19_000, openFailures: { timeout: 744 } }), FIFTY_THOUSAND)

    expect(check.status).toBe('not met')
  })

  it('are not met when a socket costs more memory than allowed, whatever the limit', () => {
    const check = target(idle({ bytesPerSocket: 9 * 1024 }), FIFTY_THOUSAND)

    expect(check.status).toBe('not met')
  })
})
