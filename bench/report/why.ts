import { BUCKET_LABELS, bucketShares, type RunProfile } from '../profile/cpu-profile.js'
import type {
  BenchResults,
  CommitAloneResult,
  IdleResult,
  Measured,
  SaturationResult,
  SaturationStep,
} from '../results.js'
import { HOW_FLOORS_STORE, STORING_FLOORS } from '../servers/baseline-driver.js'
import { DATABASE_NAMES, type DatabaseKind } from '../servers/bench-database.js'
import type { WaitHistogram } from '../servers/server-driver.js'
import { cores, count, kibibytes, mebibytes, ms, ratio } from './format.js'

/**
 * Why a target is missed, in figures of the same run: where the CPU went at the limit (our
 * server's processes and the busiest one's event loop, the load generator, PostgreSQL and Redis,
 * the whole machine), what our server spends per delivery against the baselines, and, when the
 * run was profiled, how the server's busy time splits into a few buckets. The reader can then
 * tell a server that ran out of its one JavaScript thread from a machine that ran out of cores,
 * or from a limit that is not CPU at all.
 */
export interface WhyContext {
  results: BenchResults
  profiles: RunProfile[]
}

/** An event loop busier than this is taken to be the limit. */
const BUSY_EVENT_LOOP = 0.9
/** A machine busier than this share of its cores is taken to be full. */
const FULL_MACHINE = 0.9
const SERVICE_LABELS: Record<string, string> = { postgres: 'PostgreSQL', 'redis-server': 'Redis' }
const LABELS = { 'bare-ws': 'bare ws', socketio: 'Socket.IO' } as const

/** Both saturation targets of one database share this reason. */
export function saturationWhy(context: WhyContext, database: 'sqlite' | 'postgres'): string {
  const { results } = context
  const id = `ours-${database}`
  const row = results.saturation.find((candidate) => candidate.server.id === id)
  if (row === undefined) return notRunWhy(results, 'saturation', id)
  return [
    ...searchAccount(row, results.machine.cores),
    costPerDelivery(row.held, baselinesHeld(results)),
    storingFloorAtSaturation(results, row, database),
    postgresWorkAccount(row.held, storingFloorRow(results.saturation, database)?.held),
    database === 'sqlite' ? storeAloneAccount(results) : undefined,
    profileAccount(context.profiles, 'saturation', id),
  ]
    .filter((part) => part !== undefined)
    .join(' ')
}

/** What bare ws and Socket.IO (one node) held in the saturation search, those that ran. */
function baselinesHeld(results: BenchResults): Array<{ name: string; held: SaturationStep }> {
  return (['bare-ws', 'socketio'] as const).flatMap((id) => {
    const held = results.saturation.find((row) => row.server.id === id)?.held
    return held === undefined ? [] : [{ name: LABELS[id], held }]
  })
}

export function fanOutWhy(context: WhyContext, database: 'sqlite' | 'postgres'): string {
  const { results } = context
  const id = `ours-${database}`
  const ours = results.fanOut.find((row) => row.server.id === id)
  const socketIo = results.fanOut.find((row) => row.server.id === 'socketio')
  if (ours === undefined) return notRunWhy(results, 'fan-out', id)
  if (socketIo === undefined) return notRunWhy(results, 'fan-out', 'socketio')
  const [m, theirs] = [ours.measured, socketIo.measured]
  return [
    `p50 ${ms(m.p50Ms)} ms vs ${ms(theirs.p50Ms)} ms, max ${ms(m.maxMs)} ms vs ${ms(theirs.maxMs)} ms.`,
    `At the same ${count(m.deliveredPerSecond)} deliveries/s: ${cpuAccount(m, results.machine.cores)};` +
      ` Socket.IO's server ${cores(theirs.serverCores)} cores` +
      ` (ours spends ${ratio(m.serverCores / theirs.serverCores)} its CPU per delivery).`,
    storeWaitAccount(m, theirs.p99Ms),
    database === 'sqlite' ? diskAccount(results, m) : undefined,
    storingFloorAtFanOut(results, m, theirs.p99Ms, database),
    postgresWorkAccount(m, storingFloorAtFanOutRow(results, database)),
    commitAloneAccount(commitAlone(results, database)),
    database === 'sqlite' ? storingAtFanOutAccount(results, m) : undefined,
    profileAccount(context.profiles, 'fan-out', id),
  ]
    .filter((part) => part !== undefined)
    .join(' ')
}

/**
 * Where the tail lies: how long messages took from the server taking up their send to their
 * commit, by the server's own histogram, and how many of them took longer than Socket.IO's whole
 * p99 for that. The histogram's clock stops once the messages committed together are broadcast,
 * so it is a little longer than the part of a delivery's time spent before it was written.
 */
function storeWaitAccount(m: Measured, socketIoP99Ms: number): string | undefined {
  const wait = m.serverCounters?.storeWait
  const p99 = wait && percentileRange(wait, 0.99)
  if (wait === undefined || p99 === undefined) return undefined
  const beyond = wait.boundsMs.findIndex((bound) => bound >= socketIoP99Ms)
  const late = beyond === -1 ? 0 : (wait.count - wait.atMost[beyond]!) / wait.count
  const verdict =
    late > 0.01
      ? `, longer than Socket.IO's whole p99 (${ms(socketIoP99Ms)} ms): more than the 1% a p99 leaves`
      : ''
  return (
    `On our server, the time from taking up a send to its commit (its own ` +
    `\`chat_message_store_seconds\`, which on one node also covers the broadcast of the messages ` +
    `committed with it) had ` +
    `its p99 ${rangeText(p99)}` +
    (beyond === -1
      ? '.'
      : `, and ${percent(late, 1)} of messages waited more than ` +
        `${bound(wait.boundsMs[beyond]!)} ms${verdict}.`)
  )
}

/**
 * What the disk costs our tail: the same server with its files on tmpfs (memory), where commits
 * and checkpoints write nothing to the disk. What is left of the gap is not the disk's.
 */
function diskAccount(results: BenchResults, onDisk: Measured): string | undefined {
  const inMemory = results.fanOut.find((row) => row.server.id === 'ours-sqlite-tmpfs')?.measured
  if (inMemory === undefined) return undefined
  return (
    `With its files on tmpfs (in memory: the same commits, nothing written to the disk), our ` +
    `server's p99 was ${ms(inMemory.p99Ms)} ms against ${ms(onDisk.p99Ms)} ms on disk, ` +
    `at ${cores(inMemory.serverCores)} cores.`
  )
}

/**
 * The bare ws server storing each message in the database before broadcasting it: the least a
 * server that stores first can do (see `baselines/group-commit.ts`).
 */
function storingFloorText(database: DatabaseKind): string {
  return (
    `The bare ws server storing each message in ${DATABASE_NAMES[database]} before broadcasting ` +
    `it (${HOW_FLOORS_STORE[database]}: the least storing can add)`
  )
}

function storingFloorRow<T extends { server: { id: string } }>(
  rows: T[],
  database: DatabaseKind,
): T | undefined {
  return rows.find((row) => row.server.id === STORING_FLOORS[database])
}

/** That floor's fan-out row, if it ran. */
export function storingFloorAtFanOutRow(
  results: BenchResults,
  database: DatabaseKind,
): Measured | undefined {
  return storingFloorRow(results.fanOut, database)?.measured
}

/**
 * Whether storing alone keeps a server from Socket.IO's p99: if that floor's p99 is under it, what
 * is left of our gap is our server's own work.
 */
function storingFloorAtFanOut(
  results: BenchResults,
  ours: Measured,
  socketIoP99Ms: number,
  database: DatabaseKind,
): string | undefined {
  const floor = storingFloorAtFanOutRow(results, database)
  if (floor === undefined) return undefined
  const perDelivery = (m: Measured) => m.serverCores / m.deliveredPerSecond
  const cpu = `${ratio(perDelivery(ours) / perDelivery(floor))} that server's CPU per delivery`
  return (
    `${storingFloorText(database)} had p99 ${ms(floor.p99Ms)} ms at ${cores(floor.serverCores)} cores` +
    (floor.p99Ms <= socketIoP99Ms
      ? `, under Socket.IO's: storing itself leaves room here, so the rest of our gap is our ` +
        `server's own work (ours spent ${cpu}).`
      : ` (ours spent ${cpu}).`)
  )
}

/**
 * Why a fan-out p99 is beyond this machine: the least a server can do to store each message in the
 * database before broadcasting it already took its p99 past Socket.IO's. Latency at this rate is
 * not bought with more threads, so what that server did on one is a floor for any design.
 */
export function storingFloorVerdict(
  floor: Measured,
  socketIoP99Ms: number,
  database: DatabaseKind,
): string {
  return (
    `Even the bare ws server storing each message in ${DATABASE_NAMES[database]} first, the least storing can add ` +
    `(below), had its p99 past Socket.IO's (${ms(floor.p99Ms)} ms against ${ms(socketIoP99Ms)} ms): ` +
    `on this machine, in this run, storing before broadcasting alone put a server past ` +
    `Socket.IO's p99.`
  )
}

/**
 * When ours fell well short of that floor: the floor missed the target too, but what sets ours
 * apart from it is our server's own work. `times` is ours ÷ the floor's figure.
 */
export function shortOfTheFloor(times: number, figure: 'held' | 'p99'): string {
  const ours =
    figure === 'held'
      ? `Ours held only ${ratio(times)} what that server did`
      : `Ours had ${ratio(times)} that server's p99`
  return `${ours}, more than storing explains: the rest of the gap is our server's own work.`
}

/** That floor's held step in the saturation search, if it ran and held one. */
export function storingFloorAtSaturationRow(
  results: BenchResults,
  database: DatabaseKind,
): SaturationStep | undefined {
  return storingFloorRow(results.saturation, database)?.held
}

/** That floor on several nodes over Redis (the many-node rows), if it ran. */
export function storingFloorOnManyNodes(
  results: BenchResults,
  database: DatabaseKind,
): SaturationResult | undefined {
  return results.scaleOut.find((row) => row.server.kind === STORING_FLOORS[database])
}

/** When even that floor (on `nodes` nodes) held less than a saturation target asks for. */
export function storingFloorShortOf(
  floor: SaturationStep,
  required: number,
  database: DatabaseKind,
  nodes = 1,
): string {
  const where = nodes > 1 ? `, on ${nodes} nodes relaying its broadcasts through Redis,` : ','
  return (
    `Even the bare ws server storing each message in ${DATABASE_NAMES[database]} first${where} ` +
    `the least storing can add (below), held ${count(floor.deliveredPerSecond)} deliveries/s, ` +
    `under the ${count(required)} this target asks for: on this machine, in this run, storing ` +
    `before broadcasting alone kept a server from it.`
  )
}

/** What the same floor held in the saturation search, and ours against it. */
function storingFloorAtSaturation(
  results: BenchResults,
  ours: SaturationResult,
  database: DatabaseKind,
): string | undefined {
  const floor = storingFloorRow(results.saturation, database)?.held
  if (floor === undefined || ours.held === undefined) return undefined
  const against = baselinesHeld(results).map(
    ({ name, held }) => `${ratio(floor.deliveredPerSecond / held.deliveredPerSecond)} ${name}`,
  )
  return (
    `${storingFloorText(database)} held ${count(floor.deliveredPerSecond)} deliveries/s` +
    (against.length > 0 ? ` (${against.join(', ')})` : '') +
    `; ours held ${ratio(ours.held.deliveredPerSecond / floor.deliveredPerSecond)} what it did.`
  )
}

/** The bounds of the bucket that holds the `share` percentile; undefined when nothing was counted. */
function percentileRange(
  wait: WaitHistogram,
  share: number,
): { fromMs: number; toMs: number } | undefined {
  if (wait.count <= 0) return undefined
  const i = wait.atMost.findIndex((count) => count >= share * wait.count)
  if (i === -1) return { fromMs: wait.boundsMs.at(-1) ?? 0, toMs: Infinity }
  return { fromMs: i === 0 ? 0 : wait.boundsMs[i - 1]!, toMs: wait.boundsMs[i]! }
}

/** `between 2.5 and 5 ms`, `within 0.5 ms`, `over 1,000 ms` */
function rangeText({ fromMs, toMs }: { fromMs: number; toMs: number }): string {
  if (toMs === Infinity) return `over ${bound(fromMs)} ms`
  if (fromMs === 0) return `within ${bound(toMs)} ms`
  return `between ${bound(fromMs)} and ${bound(toMs)} ms`
}

/** A bucket's bound as Prometheus names it: `0.5`, `2.5`, `1,000`. */
function bound(valueMs: number): string {
  return Number(valueMs.toPrecision(3)).toLocaleString('en')
}

const DURABILITY = {
  sqlite:
    'WAL with `synchronous=NORMAL`, as our server runs it: a commit does not wait for the disk',
  postgres: '`synchronous_commit=on`: a commit waits for its log to reach the disk',
} as const

/** What one commit took in `database` with nothing else running, if the run measured it. */
export function commitAlone(
  results: BenchResults,
  database: 'sqlite' | 'postgres',
): CommitAloneResult | undefined {
  return results.commitAlone.find((row) => row.database === database)
}

function commitAloneAccount(row: CommitAloneResult | undefined): string | undefined {
  if (row === undefined) return undefined
  return (
    `${DATABASE_NAMES[row.database]} alone, committing one message-sized row at a time with nothing ` +
    `else running (${DURABILITY[row.database]}), took p50 ${ms(row.p50Ms)} ms and ` +
    `p99 ${ms(row.p99Ms)} ms per commit.`
  )
}

/**
 * What storing costs at the fan-out rate, where a group commit is mostly one message, set against
 * the server's CPU per message: the whole store at one message per commit (the commit and the
 * writes to the log in the kernel).
 */
function storingAtFanOutAccount(results: BenchResults, m: Measured): string | undefined {
  const alone = results.storeAlone.find((row) => row.batch === 1)
  if (alone === undefined) return undefined
  return (
    `Our store alone, one message per commit with nothing else in its process, spent ` +
    `${count(alone.cpuMicrosPerMessage)} µs of CPU per message ` +
    `(${count(alone.kernelMicrosPerMessage)} µs of it in the kernel); our whole server spent ` +
    `${count((m.serverCores * 1e6) / m.sentPerSecond)} µs per message here.`
  )
}

/**
 * Why a fan-out p99 is beyond this machine: a message is broadcast only once committed, so every
 * delivery waits for at least one commit, and one commit alone already takes longer than
 * Socket.IO's whole delivery at its p99. The commit's own figures follow in the fan-out account,
 * so they are not repeated here.
 */
export function commitFloorAccount(row: CommitAloneResult, socketIoP99Ms: number): string {
  return (
    `Every delivery waits for its message's commit, and 1% of ${DATABASE_NAMES[row.database]}'s ` +
    `commits alone took longer than Socket.IO's whole p99 (${ms(socketIoP99Ms)} ms): no server ` +
    `that stores each message in it before broadcasting reaches Socket.IO's p99 on this machine.`
  )
}

export function idleWhy(results: BenchResults, row: IdleResult, limitBytes: number): string {
  const parts: string[] = []
  if (row.held < row.requested) {
    // Each socket is a file descriptor in the server; the idle workload opened what fitted.
    if (row.note !== undefined) {
      parts.push(
        `Each socket takes a file descriptor, and the server process may open ` +
          `${count(row.serverOpenFilesLimit)} files: its hard limit (\`ulimit -Hn\`), which only root ` +
          `(CAP_SYS_RESOURCE: \`prlimit --nofile\`, systemd's \`LimitNOFILE=\`, Docker's \`--ulimit nofile=\`) ` +
          `can raise, so ${count(row.held)} of ${count(row.requested)} sockets were opened.`,
      )
      if (Number.isFinite(row.bytesPerSocket) && row.bytesPerSocket <= limitBytes) {
        parts.push(
          `Memory is not what stops it: at the ${kibibytes(row.bytesPerSocket)} per socket measured, ` +
            `${count(row.requested)} sockets would take about ${mebibytes(row.bytesPerSocket * row.requested)}.`,
        )
      }
    } else {
      parts.push(`${count(row.requested - row.held)} sockets did not open.`)
    }
  }
  if (row.bytesPerSocket > limitBytes) {
    const others = results.idle
      .filter((other) => other.requested === row.requested && other.server.kind !== 'ours')
      .map((other) => `${other.server.label} ${kibibytes(other.bytesPerSocket)}`)
    parts.push(
      `${kibibytes(row.bytesPerSocket)} per socket` +
        (others.length > 0 ? ` against ${others.join(', ')} at the same count.` : '.'),
    )
  }
  return parts.join(' ')
}

export function historyWhy(
  large: number,
  small: number,
  p99Large: number,
  p99Small: number,
): string {
  return (
    `The deep page took ${ms(large - small)} ms more at the median ` +
    `(p99 ${ms(p99Large)} ms vs ${ms(p99Small)} ms).`
  )
}

/** Ours on many nodes against Socket.IO's cluster: where the machine's cores went. */
export function scaleOutWhy(
  context: WhyContext,
  ours: SaturationResult | undefined,
  socketIo: SaturationResult | undefined,
): string {
  const { results } = context
  if (ours === undefined) return notRunWhy(results, 'scale-out', 'ours')
  const parts = [...searchAccount(ours, results.machine.cores)]
  if (socketIo?.held !== undefined) {
    parts.push(
      `Socket.IO's ${socketIo.server.nodes} nodes at their held ${count(socketIo.held.deliveredPerSecond)}/s: ` +
        `${cpuAccount(socketIo.held, results.machine.cores)}.`,
    )
  }
  parts.push(
    costPerDelivery(
      ours.held,
      socketIo?.held === undefined ? [] : [{ name: 'Socket.IO', held: socketIo.held }],
    ) ?? '',
    storingFloorOnManyNodesAccount(results, ours, socketIo) ?? '',
    postgresWorkAccount(
      ours.held,
      ours.server.database === undefined
        ? undefined
        : storingFloorOnManyNodes(results, ours.server.database)?.held,
    ) ?? '',
    profileAccount(context.profiles, 'scale-out', ours.server.id) ?? '',
  )
  return parts.filter((part) => part !== '').join(' ')
}

/**
 * What PostgreSQL did for each message stored in a window of ours, by its own statistics (records
 * written to its log, rows updated, commits), beside the same for the bare ws server storing in it:
 * the storing floor writes one row with one index per message, so what ours asks of PostgreSQL
 * beyond that is ours. Undefined unless ours stored in PostgreSQL and it could say.
 */
function postgresWorkAccount(
  ours: Measured | undefined,
  floor: Measured | undefined,
): string | undefined {
  const perMessage = (m: Measured | undefined) => {
    const work = m?.postgresWork
    const stored = m === undefined ? 0 : m.sent - m.refused
    if (work === undefined || stored <= 0) return undefined
    return (
      `${(work.walRecords / stored).toFixed(1)} log records (${count(work.walBytes / stored)} ` +
      `bytes), ${(work.rowsUpdated / stored).toFixed(2)} row updates and ` +
      `${(work.commits / stored).toFixed(2)} commits`
    )
  }
  const [theirs, mine] = [perMessage(floor), perMessage(ours)]
  if (mine === undefined) return undefined
  return (
    `Per message stored, PostgreSQL counted ${mine} for ours` +
    (theirs === undefined ? '' : `, and ${theirs} for the bare ws server storing in it`) +
    ' (its own statistics over the window, drain included).'
  )
}

/** What the storing floor held on as many nodes as ours, and ours against it. */
function storingFloorOnManyNodesAccount(
  results: BenchResults,
  ours: SaturationResult,
  socketIo: SaturationResult | undefined,
): string | undefined {
  const database = ours.server.database
  if (database === undefined) return undefined
  const floor = storingFloorOnManyNodes(results, database)
  if (floor?.held === undefined || ours.held === undefined) return undefined
  const held = floor.held.deliveredPerSecond
  const against =
    socketIo?.held === undefined
      ? ''
      : ` (${ratio(held / socketIo.held.deliveredPerSecond)} Socket.IO's ${socketIo.server.nodes} nodes)`
  return (
    `${storingFloorText(database)}, on ${floor.server.nodes} nodes relaying its broadcasts ` +
    `through Redis, held ${count(held)} deliveries/s${against}: ` +
    `${cpuAccount(floor.held, results.machine.cores)}; ours held ` +
    `${ratio(ours.held.deliveredPerSecond / held)} what it did.`
  )
}

/**
 * The least reaching `deliveriesPerSecond` can cost on this machine, by this run's own figures:
 * storing each message (PostgreSQL's process at the lowest CPU per message any of our
 * PostgreSQL rows paid; for SQLite, our store fed messages with nothing else in its process), the
 * sockets at what the bare ws server pays per delivery (frames in and out, nothing else), and the
 * load generator at its lowest CPU per delivery. Everything else a chat server does (tokens,
 * checks, JSON, presence, Redis) is counted as free. When that floor exceeds the machine's cores,
 * no server that stores each message before broadcasting it reaches the rate here.
 * `messagesPerDelivery` is the workload's shape (one message is delivered to each of its
 * session's sockets).
 */
export function machineFloor(
  results: BenchResults,
  deliveriesPerSecond: number,
  messagesPerDelivery: number,
  database: 'sqlite' | 'postgres',
): { cores: number; account: string } | undefined {
  const heldSteps: HeldStep[] = [
    ...results.saturation,
    ...results.scaleOut,
    ...results.nginxSaturation,
  ]
    .filter((row) => row.held !== undefined && row.held.sentPerSecond > 0)
    .map((row) => ({ row, held: row.held! }))
  const storing = storingFloor(results, heldSteps, database)
  const generatorMicros = ({ held }: HeldStep) =>
    (held.generatorCores * 1_000_000) / held.deliveredPerSecond
  const generating = cheapest(heldSteps, generatorMicros)
  const bareWs = results.saturation.find((row) => row.server.id === 'bare-ws')?.held
  if (storing === undefined || generating === undefined || bareWs === undefined) return undefined

  const messagesPerSecond = deliveriesPerSecond * messagesPerDelivery
  const socketMicros = (bareWs.serverCores * 1_000_000) / bareWs.deliveredPerSecond
  const storingCores = (messagesPerSecond * storing.micros) / 1_000_000
  const socketCores = (deliveriesPerSecond * socketMicros) / 1_000_000
  const generatorCores = (deliveriesPerSecond * generatorMicros(generating)) / 1_000_000
  const total = storingCores + socketCores + generatorCores
  const machine = results.machine.cores
  const storingLeft = machine - socketCores - generatorCores
  return {
    cores: total,
    account:
      `The target is ${count(deliveriesPerSecond)} deliveries/s (${count(messagesPerSecond)} messages/s). ` +
      `At the least this run measured per unit, storing them takes ${storing.what} ` +
      `${cores(storingCores)} cores (${micros1(storing.micros)} µs per message, ${storing.where}), ` +
      `their sockets ${cores(socketCores)} (the bare ws server's ${micros1(socketMicros)} µs per delivery) ` +
      `and the load generator ${cores(generatorCores)} (${micros1(generatorMicros(generating))} µs per ` +
      `delivery, against ${generating.row.server.label}): ${cores(total)} cores ` +
      `${total > machine ? 'of' : 'within'} the machine's ${machine}, with everything else a chat ` +
      'server does (tokens, checks, JSON, presence, Redis) counted as free.' +
      (total > machine
        ? ' So no server that stores each message before broadcasting it reaches that rate on this ' +
          'machine: with all that still free, storing would have to cost ' +
          (storingLeft > 0
            ? `at most ${micros1((storingLeft * 1_000_000) / messagesPerSecond)} µs per message.`
            : 'nothing, and the sockets and load generator alone would still not fit.')
        : ''),
  }
}

/** What our SQLite store paid per message with nothing else in its process, at each batch. */
function storeAloneAccount(results: BenchResults): string | undefined {
  if (results.storeAlone.length === 0) return undefined
  const each = results.storeAlone.map(
    (row) =>
      `${micros1(row.cpuMicrosPerMessage)} µs at ${row.batch} per commit ` +
      `(${micros1(row.kernelMicrosPerMessage)} µs of it in the kernel; ` +
      `${micros1(row.wallMicrosPerMessage)} µs of wall time)`,
  )
  return `Storing alone, with nothing else in the process, our SQLite store spent CPU per message: ${each.join(', ')}.`
}

interface HeldStep {
  row: SaturationResult
  held: SaturationStep
}

function cheapest<T>(items: readonly T[], cost: (item: T) => number): T | undefined {
  return items.reduce<T | undefined>(
    (best, item) => (best === undefined || cost(item) < cost(best) ? item : best),
    undefined,
  )
}

/** The least CPU per stored message this run measured for `database`, and where. */
function storingFloor(
  results: BenchResults,
  heldSteps: HeldStep[],
  database: 'sqlite' | 'postgres',
): { micros: number; what: string; where: string } | undefined {
  if (database === 'sqlite') {
    const alone = cheapest(results.storeAlone, (row) => row.cpuMicrosPerMessage)
    return alone === undefined
      ? undefined
      : {
          micros: alone.cpuMicrosPerMessage,
          what: 'our SQLite store alone',
          where: `${alone.batch} messages per commit, nothing else in its process`,
        }
  }
  const postgresMicros = ({ held }: HeldStep) =>
    ((held.serviceCores.postgres ?? 0) * 1_000_000) / held.sentPerSecond
  const storing = cheapest(
    heldSteps.filter(
      ({ row, held }) =>
        row.server.database === 'postgres' && (held.serviceCores.postgres ?? 0) > 0,
    ),
    postgresMicros,
  )
  return storing === undefined
    ? undefined
    : {
        micros: postgresMicros(storing),
        what: 'PostgreSQL alone',
        where: `${storing.row.server.label} at ${count(storing.held.sentPerSecond)} messages/s`,
      }
}

/** One node against three behind nginx (informational): where the cores went in each. */
export function nginxWhy(
  context: WhyContext,
  one: SaturationResult | undefined,
  three: SaturationResult | undefined,
): string {
  const { results } = context
  if (one === undefined || three === undefined) return notRunWhy(results, 'nginx', 'ours')
  const account = (row: SaturationResult) =>
    row.held === undefined
      ? `${row.server.label}: no step held`
      : `${row.server.nodes === 1 ? 'one node' : `${row.server.nodes} nodes`} at ${count(row.held.deliveredPerSecond)}/s: ` +
        cpuAccount(row.held, results.machine.cores)
  const limit = firstFailure(three)
  return [
    `${account(one)}; ${account(three)}.`,
    limit === undefined
      ? undefined
      : `At the ${three.server.nodes} nodes' first failing step, ${verdict(limit, results.machine.cores)}.` +
        nodeAccount(limit),
    profileAccount(context.profiles, 'nginx saturation', three.server.id),
  ]
    .filter((part) => part !== undefined)
    .join(' ')
}

/** Why a workload's row is missing: the reason it was not run, or that it was not asked for. */
export function notRunWhy(results: BenchResults, workload: string, server: string): string {
  const row =
    results.notRun.find(
      (candidate) => candidate.workload.startsWith(workload) && candidate.server.startsWith(server),
    ) ??
    results.notRun.find((candidate) => candidate.workload === 'all' && candidate.server === server)
  return row === undefined
    ? 'Not part of this run (see its command above).'
    : `Not run: ${row.reason}`
}

/** What the search saw at the rate it held and at the first rate that failed. */
function searchAccount(row: SaturationResult, machineCores: number): string[] {
  const parts: string[] = []
  if (row.held !== undefined) {
    parts.push(
      `At the held ${count(row.held.deliveredPerSecond)} deliveries/s: ${cpuAccount(row.held, machineCores)}.` +
        nodeAccount(row.held),
    )
  }
  const limit = firstFailure(row)
  if (limit !== undefined) {
    parts.push(
      `At the first failing step (${count(limit.offeredPerSecond)} msgs/s offered; ${limit.failure ?? 'failed'}): ` +
        `${cpuAccount(limit, machineCores)}, so ${verdict(limit, machineCores)}.` +
        nodeAccount(limit),
    )
  } else {
    parts.push(`The search found no limit: ${row.stopReason}.`)
  }
  return parts
}

/** The failing step with the lowest offered rate above what held (the limit the search found). */
function firstFailure(row: SaturationResult): SaturationStep | undefined {
  const floor = row.held?.offeredPerSecond ?? 0
  return row.steps
    .filter((step) => !step.passed && step.offeredPerSecond > floor)
    .sort((a, b) => a.offeredPerSecond - b.offeredPerSecond)[0]
}

/**
 * `server 0.98 cores (busiest event loop 0.95, busiest other thread 0.30), generator 0.40,
 * PostgreSQL 0.30; machine 1.70 of 2`
 */
export function cpuAccount(measured: Measured, machineCores: number): string {
  const waiting =
    measured.eventLoopWaitCores === undefined
      ? ''
      : ` and waiting for a core ${cores(measured.eventLoopWaitCores)}`
  const threads = [`busiest event loop ${cores(measured.eventLoopCores)}${waiting}`]
  if (measured.otherThreadCores !== undefined)
    threads.push(`busiest other thread ${cores(measured.otherThreadCores)}`)
  const parts = [`server ${cores(measured.serverCores)} cores (${threads.join(', ')})`]
  if (measured.proxyCores !== undefined) parts.push(`nginx ${cores(measured.proxyCores)}`)
  parts.push(`generator ${cores(measured.generatorCores)}`)
  for (const [name, used] of Object.entries(measured.serviceCores)) {
    if (used >= 0.01) parts.push(`${SERVICE_LABELS[name] ?? name} ${cores(used)}`)
  }
  return `${parts.join(', ')}; machine ${cores(measured.machineCores)} of ${machineCores}`
}

/**
 * ` On the nodes: 12 messages waited for an earlier one of their session, 2 gap reads (5
 * messages), longest event-loop delay 41 ms.`, or nothing for a server that does not count these.
 */
function nodeAccount(measured: Measured): string {
  const counters = measured.serverCounters
  if (counters === undefined) return ''
  const storeWaitP99 = counters.storeWait && percentileRange(counters.storeWait, 0.99)
  return (
    ` On the nodes: ${count(counters.outOfOrder)} messages waited for an earlier one of their ` +
    `session, ${count(counters.gapReads)} gap reads from the store (${count(counters.gapMessages)} ` +
    `messages), longest event-loop delay ${counters.eventLoopDelayMaxMs.toFixed(0)} ms` +
    (storeWaitP99 === undefined
      ? '.'
      : `; from taking up a send to its commit, p99 ${rangeText(storeWaitP99)}.`)
  )
}

/** What ran out at a failing step, judged from its CPU figures. */
function verdict(step: Measured, machineCores: number): string {
  if (step.eventLoopCores >= BUSY_EVENT_LOOP) {
    return (
      `the server's event loop was busy ${percent(step.eventLoopCores)} of the time: ` +
      'its one JavaScript thread is what ran out, whatever the machine had left'
    )
  }
  if (step.machineCores >= FULL_MACHINE * machineCores) {
    return `the machine's ${machineCores} cores were full (${cores(step.machineCores)} busy), shared by everything above`
  }
  // Below a full machine, waiting for a core means the moments when every thread wanted one.
  const waitCores = step.eventLoopWaitCores ?? 0
  if (step.eventLoopCores + waitCores >= BUSY_EVENT_LOOP) {
    return (
      `the server's event loop ran ${percent(step.eventLoopCores)} of the time and waited for a ` +
      `core ${percent(waitCores)}: it was never idle, and its one JavaScript thread is what ran ` +
      `out, sharing the cores with the server's other threads and the processes above (the ` +
      `machine's average of ${cores(step.machineCores)} busy hides the moments they all ran)`
    )
  }
  return (
    `CPU was left over (busiest event loop ${percent(step.eventLoopCores)} busy, machine ` +
    `${cores(step.machineCores)} of ${machineCores}): latency grew from waiting (on commits, I/O, ` +
    'other processes) more than from computing'
  )
}

/** Server CPU per delivery at the held rate, ours against each baseline's at theirs. */
function costPerDelivery(
  held: SaturationStep | undefined,
  baselines: Array<{ name: string; held: SaturationStep }>,
): string | undefined {
  if (held === undefined || baselines.length === 0) return undefined
  const micros = (step: Measured) => (step.serverCores * 1_000_000) / step.deliveredPerSecond
  const ours = micros(held)
  return (
    `Server CPU per delivery at the held rate: ${micros1(ours)} µs, against ` +
    baselines
      .map(
        ({ name, held: theirs }) =>
          `${micros1(micros(theirs))} µs for ${name} (${ratio(ours / micros(theirs))})`,
      )
      .join(' and ') +
    '.'
  )
}

/** `Its busy time (CPU profile of this run): SQLite 42%, socket writes 24%, …` */
function profileAccount(
  profiles: RunProfile[],
  workload: string,
  serverId: string,
): string | undefined {
  const profile = profiles.find((run) => run.workload === workload && run.server.id === serverId)
  if (profile === undefined || profile.busyMs <= 0) return undefined
  const over = profile.windowed ? `${workload} run's measured windows` : `${workload} run`
  return `Where its busy time went (CPU profile of this ${over}, ${(profile.busyMs / 1_000).toFixed(1)} s busy): ${describeShares(profile)}.`
}

/** `SQLite (better-sqlite3) 42%, socket writes (ws, writev) 24%, …`, buckets under 1% left out. */
export function describeShares(profile: RunProfile): string {
  return bucketShares(profile.buckets)
    .filter(({ share }) => share >= 0.01)
    .map(({ bucket, share }) => `${BUCKET_LABELS[bucket]} ${percent(share)}`)
    .join(', ')
}

/** `62%`, or `7.6%` with one digit. */
function percent(share: number, digits = 0): string {
  return `${(share * 100).toFixed(digits)}%`
}

function micros1(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 1 : 0) : '–'
}
