import { BUCKET_LABELS, bucketShares, type RunProfile } from '../profile/cpu-profile.js'
import type {
  BenchResults,
  IdleResult,
  Measured,
  SaturationResult,
  SaturationStep,
} from '../results.js'
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

/** Both saturation targets of one database share this reason. */
export function saturationWhy(context: WhyContext, database: 'sqlite' | 'postgres'): string {
  const { results } = context
  const id = `ours-${database}`
  const row = results.saturation.find((candidate) => candidate.server.id === id)
  if (row === undefined) return notRunWhy(results, 'saturation', id)
  const baselines = (['bare-ws', 'socketio'] as const).flatMap((baseline) => {
    const held = results.saturation.find((candidate) => candidate.server.id === baseline)?.held
    return held === undefined
      ? []
      : [{ name: baseline === 'bare-ws' ? 'bare ws' : 'Socket.IO', held }]
  })
  return [
    ...searchAccount(row, results.machine.cores),
    costPerDelivery(row.held, baselines),
    profileAccount(context.profiles, 'saturation', id),
  ]
    .filter((part) => part !== undefined)
    .join(' ')
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
    profileAccount(context.profiles, 'fan-out', id),
  ]
    .filter((part) => part !== undefined)
    .join(' ')
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
    profileAccount(context.profiles, 'scale-out', ours.server.id) ?? '',
  )
  return parts.filter((part) => part !== '').join(' ')
}

/**
 * What a rate of `deliveriesPerSecond`, at the many-node shape, takes of this machine at the least
 * cost measured in this run, counting only what any server that stores messages in PostgreSQL
 * must pay: PostgreSQL at its lowest CPU per stored message (seen where batches grow largest),
 * and the load generator at its lowest CPU per delivery (against any server). Our server and Redis
 * are counted as free, so `cores` above the machine's means that, at the costs this run measured,
 * no server could reach that rate here.
 * Undefined when the run has no PostgreSQL or many-node figures to reckon with.
 */
export function storageBudget(
  results: BenchResults,
  deliveriesPerSecond: number,
): { cores: number; account: string } | undefined {
  const heldSteps = [...results.saturation, ...results.scaleOut, ...results.nginxSaturation]
    .filter((row) => row.held !== undefined && row.held.sentPerSecond > 0)
    .map((row) => ({ row, held: row.held! }))
  const cheapest = <T>(items: T[], cost: (item: T) => number) =>
    items.reduce<T | undefined>(
      (best, item) => (best === undefined || cost(item) < cost(best) ? item : best),
      undefined,
    )
  const postgresMicros = ({ held }: (typeof heldSteps)[number]) =>
    ((held.serviceCores.postgres ?? 0) * 1_000_000) / held.sentPerSecond
  const storing = cheapest(
    heldSteps.filter(
      ({ row, held }) =>
        row.server.database === 'postgres' && (held.serviceCores.postgres ?? 0) > 0,
    ),
    postgresMicros,
  )
  const generatorMicros = ({ held }: (typeof heldSteps)[number]) =>
    (held.generatorCores * 1_000_000) / held.deliveredPerSecond
  const generating = cheapest(heldSteps, generatorMicros)
  const shape = results.scaleOut.find((row) => row.held !== undefined)?.held
  if (storing === undefined || generating === undefined || shape === undefined) return undefined
  const messagesPerSecond = deliveriesPerSecond * (shape.sentPerSecond / shape.deliveredPerSecond)
  const postgresCores = (messagesPerSecond * postgresMicros(storing)) / 1_000_000
  const generatorCores = (deliveriesPerSecond * generatorMicros(generating)) / 1_000_000
  const total = postgresCores + generatorCores
  const machine = results.machine.cores
  return {
    cores: total,
    account:
      `The target is ${count(deliveriesPerSecond)} deliveries/s (${count(messagesPerSecond)} messages/s). ` +
      `Storing that many messages takes PostgreSQL alone ${cores(postgresCores)} cores at the lowest ` +
      `cost per message measured in this run (${micros1(postgresMicros(storing))} µs, ` +
      `${storing.row.server.label} at ${count(storing.held.sentPerSecond)} messages/s), and the load ` +
      `generator ${cores(generatorCores)} at its lowest cost per delivery ` +
      `(${micros1(generatorMicros(generating))} µs, against ${generating.row.server.label}): ` +
      `${cores(total)} cores ${total > machine ? 'of' : 'within'} the machine's ${machine}, ` +
      'with the server itself and Redis counted as free.' +
      (total > machine
        ? ' At these costs no server that stores each message before broadcasting it reaches that ' +
          "rate on this machine: with the server and Redis still free, PostgreSQL's cost per message " +
          `would have to fall to ${micros1(((machine - generatorCores) * 1_000_000) / messagesPerSecond)} µs.`
        : ''),
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
 * `server 0.98 cores (busiest event loop 0.95), generator 0.40, PostgreSQL 0.30; machine 1.70 of 2`
 */
export function cpuAccount(measured: Measured, machineCores: number): string {
  const parts = [
    `server ${cores(measured.serverCores)} cores (busiest event loop ${cores(measured.eventLoopCores)})`,
  ]
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
  return (
    ` On the nodes: ${count(counters.outOfOrder)} messages waited for an earlier one of their ` +
    `session, ${count(counters.gapReads)} gap reads from the store (${count(counters.gapMessages)} ` +
    `messages), longest event-loop delay ${counters.eventLoopDelayMaxMs.toFixed(0)} ms.`
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
  return `Where its busy time went (CPU profile of this ${workload} run, ${(profile.busyMs / 1_000).toFixed(1)} s busy): ${describeShares(profile)}.`
}

/** `SQLite (better-sqlite3) 42%, socket writes (ws, writev) 24%, …`, buckets under 1% left out. */
export function describeShares(profile: RunProfile): string {
  return bucketShares(profile.buckets)
    .filter(({ share }) => share >= 0.01)
    .map(({ bucket, share }) => `${BUCKET_LABELS[bucket]} ${percent(share)}`)
    .join(', ')
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`
}

function micros1(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 1 : 0) : '–'
}
