import path from 'node:path'
import { parseArgs } from 'node:util'
import { FULL_SCALE, SMOKE_SCALE, type Scale } from './scales.js'
import type { DatabaseKind } from './servers/bench-database.js'

export const WORKLOADS = [
  'fan-out',
  'group',
  'saturation',
  'idle',
  'history',
  'scale-out',
  'nginx',
] as const
export type WorkloadName = (typeof WORKLOADS)[number]

export type CpuProfileChoice = 'ours' | 'all' | 'none'

export interface BenchOptions {
  mode: 'full' | 'smoke'
  scale: Scale
  workloads: WorkloadName[]
  databases: DatabaseKind[]
  /** Where the report goes: `bench/results/` unless `--out` says otherwise. */
  outDir: string
  /** A full run into `bench/results/` also refreshes `docs/benchmarks.md`. */
  updatesDocs: boolean
  /**
   * Which server children run under `node --cpu-prof`: ours (the default of a full run, so the
   * report can say where our server's time went), every server, or none. Baselines stay
   * unprofiled unless asked for, so the figures the ratios divide by are not slowed by the profiler.
   */
  cpuProfile: CpuProfileChoice
  /** Where profiled children write their V8 CPU profiles; undefined when none is profiled. */
  cpuProfileDir: string | undefined
  /**
   * Git revisions of our server to measure beside the working tree's build, on the same
   * workloads (`--compare`): each is built once, in a temporary worktree.
   */
  compare: string[]
  postgresUrl: string
  redisUrl: string
  /** How the run was asked for, for the report. */
  command: string
}

export const USAGE = `npm run bench -- [options]

  --smoke               a few seconds in all: tiny versions of every workload (CI runs this)
  --only <list>         comma-separated workloads: ${WORKLOADS.join(', ')}
  --db <which>          sqlite, postgres or both (default both; postgres rows say why when skipped;
                        nginx always runs on PostgreSQL, which several nodes need)
  --out <dir>           where the report goes (default bench/results; docs/benchmarks.md is
                        refreshed only by a full run into the default folder)
  --workers <n>         load-generator processes for the throughput workloads
  --compare <rev>       also measure our server built at a git revision (a commit, tag or branch),
                        beside the current build on the same workloads; repeat it or give a
                        comma-separated list. Each is built once in a temporary git worktree.
  --cpu-prof            run our server under node --cpu-prof and say in the report where its time
                        went (the default of a full run; baselines are left unprofiled)
  --cpu-prof-all        profile the baselines and the many-node rows too
  --no-cpu-prof         profile nothing (the default of --smoke)

Environment: BENCH_POSTGRES_URL (default DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
BENCH_REDIS_URL (default REDIS_URL, else redis://127.0.0.1:6379).`

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..')
const DEFAULT_OUT = path.join(REPO_ROOT, 'bench', 'results')

export function parseBenchOptions(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      db: { type: 'string', default: 'both' },
      out: { type: 'string' },
      workers: { type: 'string' },
      compare: { type: 'string', multiple: true, default: [] },
      'cpu-prof': { type: 'boolean', default: false },
      'cpu-prof-all': { type: 'boolean', default: false },
      'no-cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) return 'help'

  const mode = values.smoke ? 'smoke' : 'full'
  const scale = structuredClone(mode === 'smoke' ? SMOKE_SCALE : FULL_SCALE)
  if (values.workers !== undefined) {
    const workers = Number(values.workers)
    if (!Number.isInteger(workers) || workers < 1)
      throw new Error('--workers must be a whole number of at least 1.')
    scale.workers = workers
  }
  const outDir = path.resolve(values.out ?? DEFAULT_OUT)
  const cpuProfile = parseCpuProfile(mode, values)
  return {
    mode,
    scale,
    workloads: parseWorkloads(values.only),
    databases: parseDatabases(values.db),
    outDir,
    updatesDocs: mode === 'full' && outDir === DEFAULT_OUT,
    cpuProfile,
    cpuProfileDir:
      cpuProfile === 'none'
        ? undefined
        : path.join(outDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-')),
    compare: parseRevisions(values.compare),
    postgresUrl:
      env.BENCH_POSTGRES_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: env.BENCH_REDIS_URL ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  }
}

function parseCpuProfile(
  mode: BenchOptions['mode'],
  flags: { 'cpu-prof': boolean; 'cpu-prof-all': boolean; 'no-cpu-prof': boolean },
): CpuProfileChoice {
  const given = [flags['cpu-prof'], flags['cpu-prof-all'], flags['no-cpu-prof']].filter(Boolean)
  if (given.length > 1) {
    throw new Error('--cpu-prof, --cpu-prof-all and --no-cpu-prof exclude one another.')
  }
  if (flags['cpu-prof-all']) return 'all'
  if (flags['cpu-prof']) return 'ours'
  if (flags['no-cpu-prof']) return 'none'
  return mode === 'full' ? 'ours' : 'none'
}

/** `--compare a --compare b,c` → `[a, b, c]`, each once. */
function parseRevisions(given: string[]): string[] {
  const revisions = given.flatMap((list) => list.split(',')).map((rev) => rev.trim())
  for (const rev of revisions) {
    // A revision is handed to git as an argument: nothing that could read as an option.
    if (rev === '' || rev.startsWith('-')) {
      throw new Error(`--compare: "${rev}" is not a git revision.`)
    }
  }
  return [...new Set(revisions)]
}

function parseWorkloads(only: string | undefined): WorkloadName[] {
  if (only === undefined) return [...WORKLOADS]
  const names = only
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  for (const name of names) {
    if (!(WORKLOADS as readonly string[]).includes(name)) {
      throw new Error(
        `--only: unknown workload "${name}"; expected some of ${WORKLOADS.join(', ')}.`,
      )
    }
  }
  return names as WorkloadName[]
}

function parseDatabases(db: string): DatabaseKind[] {
  if (db === 'both') return ['sqlite', 'postgres']
  if (db === 'sqlite' || db === 'postgres') return [db]
  throw new Error(`--db must be sqlite, postgres or both; got "${db}".`)
}
