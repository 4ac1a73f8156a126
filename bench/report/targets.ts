import type { BenchResults, HistoryResult, SaturationResult } from '../results.js'
import { count, kibibytes, ms, ratio } from './format.js'

/** `informational`: a figure the issue asked for, with no bar to clear. */
export type TargetStatus = 'met' | 'not met' | 'not run' | 'informational'

export interface TargetCheck {
  target: string
  measured: string
  required: string
  status: TargetStatus
}

const IDLE_BYTES_PER_SOCKET = 8 * 1024
const SATURATION_VS_BARE_WS = 0.6
const SATURATION_VS_SOCKET_IO = 1.2
const HISTORY_DEEP_VS_SMALL = 1.5
const SCALE_OUT_VS_SOCKET_IO = 2

/** The targets, each checked against this run's figures (ratios within the same run). */
export function checkTargets(results: BenchResults): TargetCheck[] {
  return [
    ...saturationTargets(results),
    ...fanOutTargets(results),
    ...idleTargets(results),
    ...historyTargets(results),
    scaleOutTarget(results),
    nginxFigure(results),
  ]
}

function heldRate(rows: SaturationResult[], id: string): number | undefined {
  return rows.find((row) => row.server.id === id)?.held?.deliveredPerSecond
}

function compare(
  target: string,
  ours: number | undefined,
  theirs: number | undefined,
  least: number,
  unit: string,
): TargetCheck {
  const required = `≥ ${least}×`
  if (ours === undefined || theirs === undefined || theirs === 0) {
    return { target, measured: 'not measured', required, status: 'not run' }
  }
  const value = ours / theirs
  return {
    target,
    measured: `${ratio(value)} (${count(ours)} vs ${count(theirs)} ${unit})`,
    required,
    status: value >= least ? 'met' : 'not met',
  }
}

function saturationTargets(results: BenchResults): TargetCheck[] {
  const rows = results.saturation
  const bare = heldRate(rows, 'bare-ws')
  const socketIo = heldRate(rows, 'socketio')
  return (['sqlite', 'postgres'] as const).flatMap((database) => {
    const name = database === 'sqlite' ? 'SQLite' : 'PostgreSQL'
    const ours = heldRate(rows, `ours-${database}`)
    return [
      compare(
        `Saturation on ${name} vs bare ws`,
        ours,
        bare,
        SATURATION_VS_BARE_WS,
        'deliveries/s',
      ),
      compare(
        `Saturation on ${name} vs Socket.IO, one node`,
        ours,
        socketIo,
        SATURATION_VS_SOCKET_IO,
        'deliveries/s',
      ),
    ]
  })
}

function fanOutTargets(results: BenchResults): TargetCheck[] {
  const p99Of = (id: string) => results.fanOut.find((row) => row.server.id === id)?.measured.p99Ms
  const socketIo = p99Of('socketio')
  return (['sqlite', 'postgres'] as const).map((database) => {
    const target = `Fan-out p99 on ${database === 'sqlite' ? 'SQLite' : 'PostgreSQL'} vs Socket.IO`
    const ours = p99Of(`ours-${database}`)
    const required = "≤ Socket.IO's p99"
    if (ours === undefined || socketIo === undefined) {
      return { target, measured: 'not measured', required, status: 'not run' as const }
    }
    return {
      target,
      measured: `${ms(ours)} ms vs ${ms(socketIo)} ms`,
      required,
      status: ours <= socketIo ? ('met' as const) : ('not met' as const),
    }
  })
}

function idleTargets(results: BenchResults): TargetCheck[] {
  const counts = [...new Set(results.idle.map((row) => row.requested))]
  if (counts.length === 0) {
    return [
      {
        target: 'Idle sockets held by one node',
        measured: 'not measured',
        required: `≤ ${kibibytes(IDLE_BYTES_PER_SOCKET)} per socket`,
        status: 'not run',
      },
    ]
  }
  return counts.map((requested) => {
    const row = results.idle.find(
      (candidate) => candidate.requested === requested && candidate.server.kind === 'ours',
    )
    const target = `Idle: ${count(requested)} sockets held by one node`
    const required = `all held, ≤ ${kibibytes(IDLE_BYTES_PER_SOCKET)} per socket`
    if (row === undefined) return { target, measured: 'not measured', required, status: 'not run' }
    const allHeld = row.held >= requested
    return {
      target,
      measured:
        `${count(row.held)} held, ${kibibytes(row.bytesPerSocket)} per socket` +
        (allHeld ? '' : ` (${row.note ?? 'some failed to open'})`),
      required,
      status: allHeld && row.bytesPerSocket <= IDLE_BYTES_PER_SOCKET ? 'met' : 'not met',
    }
  })
}

function historyTargets(results: BenchResults): TargetCheck[] {
  const byServer = new Map<string, HistoryResult[]>()
  for (const row of results.history) {
    byServer.set(row.server.id, [...(byServer.get(row.server.id) ?? []), row])
  }
  if (byServer.size === 0) {
    return [
      {
        target: 'History page deep in a large session',
        measured: 'not measured',
        required: `≤ ${HISTORY_DEEP_VS_SMALL}× a small session's`,
        status: 'not run',
      },
    ]
  }
  return [...byServer.values()].flatMap((rows) => {
    const sizes = rows.map((row) => row.sessionMessages)
    const [small, large] = [Math.min(...sizes), Math.max(...sizes)]
    const name = rows[0]!.server.id === 'ours-sqlite' ? 'SQLite' : 'PostgreSQL'
    return (['cursor deep', 'offset deep', 'newest page'] as const).map((query) => {
      const p50 = (size: number) =>
        rows.find((row) => row.sessionMessages === size && row.query === query)?.p50Ms
      const [inLarge, inSmall] = [p50(large), p50(small)]
      const target = `History on ${name}: ${query} in ${count(large)} vs ${count(small)} messages`
      const required = `≤ ${HISTORY_DEEP_VS_SMALL}×`
      if (inLarge === undefined || inSmall === undefined) {
        return { target, measured: 'not measured', required, status: 'not run' as const }
      }
      const value = inLarge / inSmall
      return {
        target,
        measured: `${ratio(value)} (median ${ms(inLarge)} ms vs ${ms(inSmall)} ms)`,
        required,
        status: value <= HISTORY_DEEP_VS_SMALL ? ('met' as const) : ('not met' as const),
      }
    })
  })
}

function scaleOutTarget(results: BenchResults): TargetCheck {
  const ours = results.scaleOut.find((row) => row.server.kind === 'ours')
  const socketIo = results.scaleOut.find((row) => row.server.kind === 'socket.io')
  const check = compare(
    `Many nodes: ours (${ours?.server.nodes ?? 3} nodes) vs Socket.IO (${socketIo?.server.nodes ?? 2} nodes), both over Redis`,
    ours?.held?.deliveredPerSecond,
    socketIo?.held?.deliveredPerSecond,
    SCALE_OUT_VS_SOCKET_IO,
    'deliveries/s',
  )
  if (check.status === 'not run') {
    const reason = results.notRun.find(
      (row) => row.workload === 'scale-out' && row.server.startsWith('ours'),
    )?.reason
    if (reason !== undefined) check.measured = `not run: ${reason}`
  }
  return check
}

/** Issue 4: three nodes behind nginx against one node, both over Redis; a ratio, not a target. */
function nginxFigure(results: BenchResults): TargetCheck {
  const target = 'One node vs three nodes behind nginx'
  const required = 'none (informational)'
  const [one, three] = nginxPair(results.nginxSaturation)
  const [oneHeld, threeHeld] = [one?.held?.deliveredPerSecond, three?.held?.deliveredPerSecond]
  if (oneHeld === undefined || threeHeld === undefined || oneHeld === 0) {
    const reason = results.notRun.find((row) => row.workload.startsWith('nginx'))?.reason
    const measured = reason === undefined ? 'not measured' : `not run: ${reason}`
    return { target, measured, required, status: 'not run' }
  }
  const [oneFanOut, threeFanOut] = nginxPair(results.nginxFanOut)
  const fanOut =
    oneFanOut === undefined || threeFanOut === undefined
      ? ''
      : `; fan-out p99 ${ms(threeFanOut.measured.p99Ms)} ms vs ${ms(oneFanOut.measured.p99Ms)} ms`
  return {
    target,
    measured:
      `three nodes hold ${ratio(threeHeld / oneHeld)} what one does ` +
      `(${count(threeHeld)} vs ${count(oneHeld)} deliveries/s${fanOut})`,
    required,
    status: 'informational',
  }
}

/** The one-node row and the many-node row behind nginx of the `nginx` workload, in that order. */
export function nginxPair<T extends { server: { nodes: number } }>(
  rows: T[],
): [T | undefined, T | undefined] {
  return [rows.find((row) => row.server.nodes === 1), rows.find((row) => row.server.nodes > 1)]
}
