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

export interface BenchOptions {
  mode: 'full' | 'smoke'
  scale: Scale
  workloads: WorkloadName[]
  databases: DatabaseKind[]
  /** Where the report goes: `bench/results/` unless `--out` says otherwise. */
  outDir: string
  /** A full run into `bench/results/` also refreshes `docs/benchmarks.md`. */
  updatesDocs: boolean
  /** With `--cpu-prof`: every server child writes a V8 CPU profile here, summarised in the report. */
  cpuProfileDir: string | undefined
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
  --cpu-prof            run every server child with node --cpu-prof and summarise the profiles

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
      'cpu-prof': { type: 'boolean', default: false },
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
  return {
    mode,
    scale,
    workloads: parseWorkloads(values.only),
    databases: parseDatabases(values.db),
    outDir,
    updatesDocs: mode === 'full' && outDir === DEFAULT_OUT,
    cpuProfileDir: values['cpu-prof']
      ? path.join(outDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'))
      : undefined,
    postgresUrl:
      env.BENCH_POSTGRES_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: env.BENCH_REDIS_URL ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  }
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
