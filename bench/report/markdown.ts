import {
  BUCKET_LABELS,
  COST_BUCKETS,
  bucketShares,
  type RunProfile,
} from '../profile/cpu-profile.js'
import { flameGraphName } from '../profile/flame-graph.js'
import type {
  BenchResults,
  CommitAloneResult,
  IdleResult,
  SaturationResult,
  SteadyResult,
} from '../results.js'
import { HOW_FLOORS_STORE, STORING_FLOORS } from '../servers/baseline-driver.js'
import { DATABASE_NAMES, type DatabaseKind } from '../servers/bench-database.js'
import type { ServerKind } from '../servers/server-driver.js'
import {
  cores,
  count,
  describeRecovery,
  kibibytes,
  mebibytes,
  ms,
  ratio,
  seconds,
  tally,
} from './format.js'
import { checkTargets, nginxPair, type TargetCheck, type TargetStatus } from './targets.js'

export interface MarkdownOptions {
  /** How the report refers to its chart (a path relative to the Markdown file). */
  chartPath: string
  /** The server CPU profiles of the run, summarised per server run (none without `--cpu-prof`). */
  profiles?: RunProfile[]
  /**
   * Where the runs' flame graphs are (`flameGraphName`), relative to the Markdown file, and which
   * runs have one there; without it the report links none.
   */
  flameGraphs?: { dir: string; has: (profile: RunProfile) => boolean }
}

/** The report: targets first, then one table per workload, then the details behind them. */
export function renderMarkdown(results: BenchResults, options: MarkdownOptions): string {
  const { machine } = results
  const profiles = options.profiles ?? []
  const targets = checkTargets(results, profiles)
  const lines: string[] = [
    `# Benchmarks${results.mode === 'smoke' ? ' (smoke run: tiny sizes, figures mean nothing)' : ''}`,
    '',
    `Run ${results.startedAt} → ${results.finishedAt} with \`${results.command}\`, on ${results.revision}.`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, ` +
      `Node.js ${machine.node}, ${machine.os}. The servers, the load generator, PostgreSQL and Redis all ` +
      'share these cores.',
    '',
    'How to read the figures: a *delivery* is one message frame reaching one socket; every socket of ' +
      "the session gets one, the sender's included. Latency is end to end, from the send to each " +
      'delivery, over every delivery. *Lost* counts deliveries still missing after the drain; ' +
      '*dup* counts a socket receiving a message twice; *refused* counts sends the server turned ' +
      'down as busy (an `error` frame of code `unavailable`), which owe no delivery. CPU is in cores (1.00 = one core busy): the ' +
      "server's own processes, the load generator's, and the whole machine's (which also counts " +
      'PostgreSQL, Redis and anything else running; what is left over is noise from elsewhere). ' +
      'Comparisons are ratios within this run, so the machine matters less than it would for the ' +
      'absolute figures.',
    '',
    'Our server stores every message before broadcasting it, as it runs by default: SQLite in WAL ' +
      'mode with `synchronous=NORMAL` (a committed message survives a crash of the process), ' +
      'PostgreSQL with its defaults (`synchronous_commit=on`: the commit waits for the log to reach ' +
      'the disk). ' +
      storingFloorNote(results),
    '',
    ...runNotes(results),
    `![Throughput and p99 per server](${options.chartPath})`,
    '',
    '## Targets',
    '',
    '| Target | Measured | Required | Status |',
    '| --- | --- | --- | --- |',
    ...targets.map(
      (check) =>
        `| ${check.target} | ${check.measured} | ${check.required} | ${statusMark(check.status)} |`,
    ),
    '',
    ...whySection(targets),
    ...comparedSection(results),
    ...saturationSection('## Saturation', results.saturation, baselineColumns(results)),
    ...steadySection('## Fan-out', results.fanOut),
    ...commitAloneSection(results.commitAlone),
    ...steadySection('## Group', results.group),
    ...idleSection(results.idle),
    ...historySection(results),
    ...saturationSection('## Many nodes over Redis', results.scaleOut, baselineColumns(results)),
    ...nginxSection(results),
  ]
  if (results.notRun.length > 0) {
    lines.push(
      '## Not run',
      '',
      '| Workload | Server | Why |',
      '| --- | --- | --- |',
      ...results.notRun.map((row) => `| ${row.workload} | ${row.server} | ${cell(row.reason)} |`),
      '',
    )
  }
  lines.push(
    ...stepsSection([...results.saturation, ...results.scaleOut, ...results.nginxSaturation]),
  )
  if (profiles.length > 0) lines.push(...profileSection(profiles, options.flameGraphs))
  return `${lines.join('\n')}\n`
}

/** What sets this run apart from a plain one: compared builds, profiled servers. */
function runNotes(results: BenchResults): string[] {
  const notes: string[] = []
  if (results.compared.length > 0) {
    notes.push(
      'Compared builds (`--compare`): ' +
        results.compared.map((build) => `**@${build.short}** (${cell(build.subject)})`).join(', ') +
        ', each built in this run from its commit in a temporary git worktree with this ' +
        "checkout's `node_modules`, and measured right after the current build on every " +
        'workload ours runs. Their rows are labelled `swipesavvy-chat @<commit>`; targets and ' +
        'ratios are those of the current build.',
    )
  }
  if (results.cpuProfile !== 'none') {
    notes.push(
      results.cpuProfile === 'all'
        ? 'Every server ran under `node --cpu-prof`, which costs each some CPU.'
        : 'Our server ran under `node --cpu-prof` on one node without Redis, which costs it some ' +
            'CPU, except in saturation: the rate a server holds is what the profiler would lower ' +
            '(the baselines and the many-node rows ran unprofiled too). "Where the time went" ' +
            'below summarises the profiles.',
    )
  }
  return notes.flatMap((note) => [note, ''])
}

/** Below the targets: for each one missed or not run, the reason measured in this run. */
function whySection(targets: TargetCheck[]): string[] {
  // Targets that share a reason (both saturation ratios of a database) share a line.
  const byWhy = new Map<string, TargetCheck[]>()
  for (const check of targets) {
    if (check.why === undefined || check.why === '') continue
    byWhy.set(check.why, [...(byWhy.get(check.why) ?? []), check])
  }
  if (byWhy.size === 0) return []
  return [
    '### Why targets are missed',
    '',
    'From figures of this run. CPU is in cores; the busiest event loop is the main thread of the ' +
      "busiest server process, where Node.js runs JavaScript: at 1.00 that process can't go faster, " +
      'however many cores the machine has. The busiest other thread is the busiest of any node’s ' +
      'remaining threads (on SQLite, usually the one that checkpoints). PostgreSQL and Redis are ' +
      'their processes on this machine (read from `/proc`).',
    '',
    ...[...byWhy.entries()].map(
      ([why, checks]) =>
        `- **${checks.map((check) => check.target).join('; ')}** ` +
        `(${[...new Set(checks.map((check) => check.status))].join(', ')}): ${why}`,
    ),
    '',
  ]
}

/**
 * Current against each compared build, for what a change is usually meant to move: saturation
 * throughput and fan-out p99, on each database (and the many-node rows, when they ran).
 */
function comparedSection(results: BenchResults): string[] {
  if (results.compared.length === 0) return []
  interface Figure {
    name: string
    /** Our server's row id, without the `@commit` of a compared build. */
    id: string
    value: (id: string) => number | undefined
    unit: 'deliveries/s' | 'ms'
  }
  const held = (rows: SaturationResult[]) => (id: string) =>
    rows.find((row) => row.server.id === id)?.held?.deliveredPerSecond
  const p99 = (id: string) => results.fanOut.find((row) => row.server.id === id)?.measured.p99Ms
  const figures: Figure[] = [
    ...(['sqlite', 'postgres'] as const).flatMap((database): Figure[] => {
      const name = DATABASE_NAMES[database]
      const id = `ours-${database}`
      return [
        {
          name: `Saturation on ${name}, deliveries/s held`,
          id,
          value: held(results.saturation),
          unit: 'deliveries/s',
        },
        { name: `Fan-out p99 on ${name}, ms`, id, value: p99, unit: 'ms' },
      ]
    }),
    ...[...results.scaleOut, ...results.nginxSaturation]
      .filter((row) => row.server.kind === 'ours' && row.server.build === undefined)
      .map((row): Figure => ({
        name: `${row.server.label.replace(/^swipesavvy-chat, /, '')}: saturation, deliveries/s held`,
        id: row.server.id,
        value: held([...results.scaleOut, ...results.nginxSaturation]),
        unit: 'deliveries/s',
      })),
  ]
  const rows = figures.filter((figure) =>
    results.compared.some((build) => figure.value(`${figure.id}@${build.short}`) !== undefined),
  )
  if (rows.length === 0) return []
  const show = (value: number | undefined, unit: Figure['unit']) =>
    value === undefined ? '–' : unit === 'ms' ? ms(value) : count(value)
  return [
    '## Compared builds',
    '',
    'The current build against each compared one, from this run. _× @commit_ is current ÷ ' +
      'compared: above 1× is more throughput; for p99, below 1× is lower latency.',
    '',
    `| Figure | current |${results.compared.map((build) => ` @${build.short} | × @${build.short} |`).join('')}`,
    `| --- | ---: |${' ---: | ---: |'.repeat(results.compared.length)}`,
    ...rows.map((figure) => {
      const current = figure.value(figure.id)
      const cells = results.compared.flatMap((build) => {
        const before = figure.value(`${figure.id}@${build.short}`)
        return [
          show(before, figure.unit),
          current === undefined || before === undefined ? '–' : ratio(current / before),
        ]
      })
      return `| ${[figure.name, show(current, figure.unit), ...cells].join(' | ')} |`
    }),
    '',
  ]
}

const STATUS_MARKS: Record<TargetStatus, string> = {
  met: '✅ met',
  'not met': '❌ not met',
  'beyond this machine': '⛔ beyond this machine',
  informational: 'ℹ️ informational',
  'not run': '⏸ not run',
}

function statusMark(status: TargetStatus): string {
  return STATUS_MARKS[status]
}

/** `heading` is the Markdown heading, level included (`## Fan-out`); the shape is appended. */
function steadySection(heading: string, rows: SteadyResult[]): string[] {
  if (rows.length === 0) return []
  const shape = rows[0]!.shape
  // A column for the proxy's CPU only where some row went through one.
  const hasProxy = rows.some((row) => row.measured.proxyCores !== undefined)
  return [
    `${heading}: ${count(shape.sessions)} sessions × ${shape.clientsPerSession} clients × ${rows[0]!.ratePerClient} msg/s`,
    '',
    `Lost: still missing ${seconds(rows[0]!.drainMs)} after the last send.`,
    '',
    `| Server | msgs/s | deliveries/s | p50 ms | p99 ms | max ms | lost | dup | refused | server CPU |${hasProxy ? ' nginx CPU |' : ''} generator CPU | machine CPU | server RSS | errors, closes |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${hasProxy ? ' ---: |' : ''} ---: | ---: | ---: | --- |`,
    ...rows
      .map(({ server, measured: m, openFailures }) =>
        [
          server.label,
          count(m.sentPerSecond),
          count(m.deliveredPerSecond),
          ms(m.p50Ms),
          ms(m.p99Ms),
          ms(m.maxMs),
          count(m.lost),
          count(m.duplicates),
          count(m.refused),
          cores(m.serverCores),
          ...(hasProxy ? [cores(m.proxyCores ?? Number.NaN)] : []),
          cores(m.generatorCores),
          cores(m.machineCores),
          mebibytes(m.serverRssBytes),
          problems(m.errors, m.closes, openFailures),
        ].join(' | '),
      )
      .map((row) => `| ${row} |`),
    '',
  ]
}

/** The floor under the fan-out p99: one commit, with nothing else running. */
function commitAloneSection(rows: CommitAloneResult[]): string[] {
  if (rows.length === 0) return []
  return [
    'Each database alone, committing one message-sized row at a time with nothing else running (a',
    'message is broadcast only once committed, so no delivery of ours is quicker than its commit):',
    '',
    '| Database | commits | p50 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${DATABASE_NAMES[row.database]} | ${count(row.commits)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${ms(row.maxMs)} |`,
    ),
    '',
  ]
}

/**
 * What the baselines store: nothing, but for the bare ws server storing in a database (the floors
 * beside our rows on that database), each named with how it stores.
 */
function storingFloorNote(results: BenchResults): string {
  const ran = (kind: ServerKind) =>
    [...results.fanOut, ...results.group, ...results.saturation, ...results.scaleOut].some(
      (row) => row.server.kind === kind,
    )
  const onManyNodes = results.scaleOut.some((row) =>
    (Object.values(STORING_FLOORS) as ServerKind[]).includes(row.server.kind),
  )
  const floors = (Object.keys(STORING_FLOORS) as DatabaseKind[])
    .filter((database) => ran(STORING_FLOORS[database]))
    .map(
      (database) =>
        `_bare ws storing in ${DATABASE_NAMES[database]}_ (${HOW_FLOORS_STORE[database]})`,
    )
  if (floors.length === 0) return 'The baselines store nothing.'
  return (
    `The baselines store nothing, but for ${floors.join(' and ')}: the bare ws server storing ` +
    'each message in that database, with the durability our server runs it with, before ' +
    'broadcasting it, the least a server that stores first can do' +
    (onManyNodes
      ? '; on several nodes (the many-node rows), each node publishes what it stored to Redis ' +
        'and sends its sockets what Redis hands it back, one channel per session.'
      : '.')
  )
}

/** A ratio column of a saturation table: each row's held deliveries/s over `deliveredPerSecond`. */
interface ReferenceColumn {
  header: string
  deliveredPerSecond: number
}

/** `× bare ws` and `× Socket.IO`, from the single-node saturation rows. */
function baselineColumns(results: BenchResults): ReferenceColumn[] {
  const held = (id: string) =>
    results.saturation.find((row) => row.server.id === id)?.held?.deliveredPerSecond ?? Number.NaN
  return [
    { header: '× bare ws', deliveredPerSecond: held('bare-ws') },
    { header: '× Socket.IO', deliveredPerSecond: held('socketio') },
  ]
}

/** `heading` is the Markdown heading, level included (`## Saturation`); the shape is appended. */
function saturationSection(
  heading: string,
  rows: SaturationResult[],
  references: ReferenceColumn[],
): string[] {
  if (rows.length === 0) return []
  const shape = rows[0]!.shape
  const hasProxy = rows.some((row) => row.held?.proxyCores !== undefined)
  return [
    `${heading}: ${count(shape.sessions)} sessions × ${shape.clientsPerSession} clients, rate raised until p99 > 100 ms or a delivery is lost`,
    '',
    `A step lasts ${seconds(rows[0]!.steps[0]?.durationMs ?? Number.NaN)}; a delivery still missing ${seconds(rows[0]!.drainMs)} after its last send is lost.`,
    '',
    `| Server | deliveries/s held | msgs/s held |${references.map((column) => ` ${column.header} |`).join('')} p99 ms at held | server CPU |${hasProxy ? ' nginx CPU |' : ''} generator CPU | machine CPU | stopped because |`,
    `| --- | ---: | ---: |${' ---: |'.repeat(references.length)} ---: | ---: |${hasProxy ? ' ---: |' : ''} ---: | ---: | --- |`,
    ...rows.map(({ server, held, stopReason }) => {
      const delivered = held?.deliveredPerSecond ?? Number.NaN
      return `| ${[
        server.label,
        count(delivered),
        count(held?.sentPerSecond ?? Number.NaN),
        ...references.map((column) => ratio(delivered / column.deliveredPerSecond)),
        ms(held?.p99Ms ?? Number.NaN),
        cores(held?.serverCores ?? Number.NaN),
        ...(hasProxy ? [cores(held?.proxyCores ?? Number.NaN)] : []),
        cores(held?.generatorCores ?? Number.NaN),
        cores(held?.machineCores ?? Number.NaN),
        cell(stopReason),
      ].join(' | ')} |`
    }),
    '',
  ]
}

/** Issue 4's figures: one node against three behind nginx, at the fan-out shape and at saturation. */
function nginxSection(results: BenchResults): string[] {
  const { nginxFanOut, nginxSaturation } = results
  if (nginxFanOut.length === 0 && nginxSaturation.length === 0) return []
  const [oneNode] = nginxPair(nginxSaturation)
  return [
    '## One node vs three nodes behind nginx',
    '',
    'Both rows are our server on PostgreSQL over its Redis bus (each with a fresh schema and ' +
      'Redis prefix), measured in this run by the same load generator. The one node takes the ' +
      'clients directly; the three sit behind real nginx running the shipped ' +
      '`deploy/nginx.conf` with only its addresses changed, so each session’s sockets land on ' +
      'the node its id hashes to and the bench’s REST calls are balanced over all three. ' +
      '*Server CPU* sums the node processes; nginx (master and workers) has a column of its own; ' +
      'PostgreSQL and Redis are in *machine CPU*, and split out under "Why targets are missed". Every process shares the same cores, so ' +
      'this says what more nodes buy on this machine, not on a machine each.',
    '',
    ...steadySection('### At the fan-out shape', nginxFanOut),
    ...saturationSection('### Saturation', nginxSaturation, [
      { header: '× one node', deliveredPerSecond: oneNode?.held?.deliveredPerSecond ?? Number.NaN },
    ]),
  ]
}

function idleSection(rows: IdleResult[]): string[] {
  if (rows.length === 0) return []
  return [
    '## Idle: sockets opened and held',
    '',
    '| Server | requested | held | RSS before | RSS after | per socket | open time | source addresses | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${[
          row.server.label,
          count(row.requested),
          count(row.held),
          mebibytes(row.rssBeforeBytes),
          mebibytes(row.rssAfterBytes),
          kibibytes(row.bytesPerSocket),
          `${(row.openMs / 1_000).toFixed(1)} s`,
          count(row.sourceAddresses),
          cell(
            [
              row.note,
              Object.keys(row.openFailures).length > 0
                ? `failed: ${tally(row.openFailures)}`
                : undefined,
            ]
              .filter((part) => part !== undefined)
              .join('; ') || '–',
          ),
        ].join(' | ')} |`,
    ),
    '',
  ]
}

function historySection(results: BenchResults): string[] {
  const rows = results.history
  if (rows.length === 0) return []
  const smallest = Math.min(...rows.map((row) => row.sessionMessages))
  const baseline = (server: string, query: string) =>
    rows.find(
      (row) => row.server.id === server && row.query === query && row.sessionMessages === smallest,
    )?.p50Ms ?? Number.NaN
  return [
    '## History: `GET …/messages?limit=50`',
    '',
    'Sessions seeded straight into the database; requests one at a time, taking turns across sizes and queries. ' +
      '*offset deep* and *cursor deep* read the page half-way back.',
    '',
    `| Server | session messages | query | median ms | p99 ms | mean ms | median × ${count(smallest)}-message session | seeded in |`,
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${[
          row.server.label,
          count(row.sessionMessages),
          row.query,
          ms(row.p50Ms),
          ms(row.p99Ms),
          ms(row.meanMs),
          ratio(row.p50Ms / baseline(row.server.id, row.query)),
          `${(row.seedMs / 1_000).toFixed(1)} s`,
        ].join(' | ')} |`,
    ),
    '',
  ]
}

function stepsSection(rows: SaturationResult[]): string[] {
  if (rows.length === 0) return []
  const lines = [
    '## Saturation steps',
    '',
    '<details><summary>Every step of every search</summary>',
    '',
    'After a failed step the search waits for the server to work off its backlog (every delivery ' +
      'owed arrived, server CPU quiet) before the next, and says how long that took.',
    '',
  ]
  const notes: Record<SaturationResult['workload'], string> = {
    saturation: '',
    'scale-out': ' (many nodes)',
    nginx: ' (one node vs three behind nginx)',
  }
  for (const row of rows) {
    const hasProxy = row.steps.some((step) => step.proxyCores !== undefined)
    lines.push(
      `**${row.server.label}**${notes[row.workload]}`,
      '',
      `| offered msgs/s | deliveries/s | p50 ms | p99 ms | lost | dup | refused | server CPU |${hasProxy ? ' nginx CPU |' : ''} generator CPU | machine CPU | result |`,
      `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${hasProxy ? ' ---: |' : ''} ---: | ---: | --- |`,
      ...row.steps.map(
        (step) =>
          `| ${[
            count(step.offeredPerSecond),
            count(step.deliveredPerSecond),
            ms(step.p50Ms),
            ms(step.p99Ms),
            count(step.lost),
            count(step.duplicates),
            count(step.refused),
            cores(step.serverCores),
            ...(hasProxy ? [cores(step.proxyCores ?? Number.NaN)] : []),
            cores(step.generatorCores),
            cores(step.machineCores),
            step.passed
              ? 'held'
              : cell(
                  [step.failure ?? 'failed', step.recovery && describeRecovery(step.recovery)]
                    .filter(Boolean)
                    .join('; then '),
                ),
          ].join(' | ')} |`,
      ),
      '',
    )
  }
  lines.push('</details>', '')
  return lines
}

function profileSection(
  profiles: RunProfile[],
  flameGraphs: MarkdownOptions['flameGraphs'],
): string[] {
  const link = (profile: RunProfile) =>
    flameGraphs?.has(profile) ? `[svg](${flameGraphs.dir}/${flameGraphName(profile)})` : '–'
  return [
    '## Where the time went: server CPU profiles',
    '',
    'Each profiled server run (`node --cpu-prof`; nodes summed), its busy time split into buckets, ' +
      'over the windows the workload measured where it has them (fan-out, group, saturation and ' +
      'the rows built on them: the load, not start-up or sign-ups), else over the process ' +
      'lifetime (idle, history). Native work is charged ' +
      "to its caller: a SQLite statement to better-sqlite3 and our store's SQLite file, a socket's " +
      '`writev` to the stream that called it, and to the PostgreSQL client when a query is what ' +
      'it sends. The profile is of the main thread, the event loop, ' +
      'where our SQLite store runs its statements too; the thread that checkpoints SQLite (copies ' +
      "its log back into the database file) is in the server's CPU figures but not here. Each " +
      'run has a flame graph over the same samples, coloured by the same buckets (an SVG: open it ' +
      'in a browser and hover a bar); the `.cpuprofile` files open in Chrome DevTools or ' +
      'speedscope.',
    '',
    `| Workload | Server | busy s |${COST_BUCKETS.map((bucket) => ` ${BUCKET_LABELS[bucket]} |`).join('')} flame graph |`,
    `| --- | --- | ---: |${' ---: |'.repeat(COST_BUCKETS.length)} --- |`,
    ...profiles.map((profile) => {
      const shares = new Map(bucketShares(profile.buckets).map((entry) => [entry.bucket, entry]))
      return `| ${[
        profile.workload,
        profile.server.label,
        (profile.busyMs / 1_000).toFixed(1),
        ...COST_BUCKETS.map((bucket) => `${((shares.get(bucket)?.share ?? 0) * 100).toFixed(0)}%`),
        link(profile),
      ].join(' | ')} |`
    }),
    '',
    ...topFunctions(profiles),
  ]
}

function topFunctions(profiles: RunProfile[]): string[] {
  const lines = ['<details><summary>Top functions by self time, per process</summary>', '']
  for (const profile of profiles) {
    for (const process of profile.processes) {
      const busy = process.durationMs - process.idleMs
      lines.push(
        `**${profile.workload}, ${cell(profile.server.label)}** (${process.file.split('/').pop()}): ` +
          `${(busy / 1_000).toFixed(1)} s busy of ${(process.durationMs / 1_000).toFixed(1)} s, ` +
          `${(process.garbageCollectionMs / 1_000).toFixed(2)} s in GC`,
        '',
        '| self ms | share of busy | function | where |',
        '| ---: | ---: | --- | --- |',
        ...process.topFunctions
          .slice(0, 10)
          .map(
            (entry) =>
              `| ${count(entry.selfMs)} | ${(entry.selfShare * 100).toFixed(1)}% | \`${cell(entry.name)}\` | ${cell(entry.location)} |`,
          ),
        '',
      )
    }
  }
  lines.push('</details>', '')
  return lines
}

function problems(
  errors: Record<string, number>,
  closes: Record<string, number>,
  openFailures: Record<string, number>,
): string {
  const parts = [
    Object.keys(errors).length > 0 ? `errors: ${tally(errors)}` : undefined,
    Object.keys(closes).length > 0 ? `closed: ${tally(closes)}` : undefined,
    Object.keys(openFailures).length > 0 ? `not opened: ${tally(openFailures)}` : undefined,
  ].filter((part) => part !== undefined)
  return parts.length === 0 ? '–' : cell(parts.join('; '))
}

/** Keeps a table cell on one line and its pipes from splitting it. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}
