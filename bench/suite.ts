import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BenchOptions } from './options.js'
import { listCpuProfiles } from './profile/cpu-profile.js'
import { describeMachine, describeRevision } from './report/machine.js'
import type { BenchResults, NotRun } from './results.js'
import type { StoreAloneSpec } from './scales.js'
import { BaselineDriver, STORING_FLOORS } from './servers/baseline-driver.js'
import { DATABASE_NAMES, isPostgresReachable, type DatabaseKind } from './servers/bench-database.js'
import { OursDriver, type OursOptions } from './servers/ours-driver.js'
import {
  buildRevision,
  resolveRevision,
  snapshotServerBuild,
  type ComparedRevision,
  type ServerBuild,
} from './servers/server-build.js'
import type { DriverOptions, ServerDriver } from './servers/server-driver.js'
import type { WorkloadContext } from './workloads/context.js'
import { runHistory } from './workloads/history.js'
import { runIdle } from './workloads/idle.js'
import { measuredWindows, serverInfo } from './workloads/measure.js'
import { nginxRowsProblem } from './workloads/nginx.js'
import { runSaturation } from './workloads/saturation.js'
import { runStoreAlone } from './workloads/store-alone.js'
import { runCommitAlone } from './workloads/commit-alone.js'
import { runScaleOut } from './workloads/scale-out.js'
import { runSteady } from './workloads/steady.js'

/**
 * Nodes in the many-node rows: ours over its Redis bus (also behind nginx), Socket.IO over its
 * Redis adapter.
 */
const OUR_NODES = 3
const SOCKET_IO_NODES = 2

/** One build of our server the run measures: the working tree's, or a compared revision's. */
interface OurBuild {
  cli: string
  /** The compared revision's short commit; undefined for the working tree's build. */
  short: string | undefined
}

/**
 * Runs the chosen workloads against every server, one server at a time: each run starts its own
 * server process with its own database, so no run inherits another's memory or data. A run that
 * fails becomes a "not run" row with the reason, and the rest carry on.
 *
 * With `--compare`, each revision's build of our server runs right after the current build's, on
 * every workload ours runs, so a change's before and after come from the same run.
 */
export async function runSuite(
  options: BenchOptions,
  log: (line: string) => void,
): Promise<BenchResults> {
  const startedAt = new Date().toISOString()
  // A revision git does not know is a mistake on the command line: say so before anything runs.
  const revisions = options.compare.map((rev) => resolveRevision(rev))
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swipesavvy-bench-'))
  const results: BenchResults = {
    startedAt,
    finishedAt: startedAt,
    mode: options.mode,
    command: options.command,
    revision: describeRevision(),
    compared: [],
    cpuProfile: options.cpuProfile,
    profileRuns: [],
    machine: describeMachine(),
    fanOut: [],
    group: [],
    saturation: [],
    storeAlone: [],
    commitAlone: [],
    idle: [],
    history: [],
    scaleOut: [],
    nginxFanOut: [],
    nginxSaturation: [],
    notRun: [],
  }
  const skip = (row: NotRun) => {
    results.notRun.push(row)
    log(`  not run: ${row.workload} on ${row.server}: ${row.reason}`)
  }
  const context: WorkloadContext = { scale: options.scale, log, skip }
  const profileDir = options.cpuProfileDir
  if (profileDir !== undefined) fs.mkdirSync(profileDir, { recursive: true })
  // Ours is profiled unless --no-cpu-prof; the baselines only with --cpu-prof-all.
  const oursOptions: DriverOptions = { workDir, cpuProfileDir: profileDir }
  const baselineOptions: DriverOptions = {
    workDir,
    cpuProfileDir: options.cpuProfile === 'all' ? profileDir : undefined,
  }
  const build = snapshotServerBuild()
  const comparedBuilds: ServerBuild[] = []
  // Only the fan-out row of ours on SQLite uses it.
  const tmpfsDir =
    options.workloads.includes('fan-out') && options.databases.includes('sqlite')
      ? tmpfsFolder()
      : undefined

  try {
    const ourBuilds: OurBuild[] = [{ cli: build.cli, short: undefined }]
    for (const revision of revisions) {
      const built = buildComparedRevision(revision, log, skip)
      if (built === undefined) continue
      comparedBuilds.push(built)
      results.compared.push(revision)
      ourBuilds.push({ cli: built.cli, short: revision.short })
    }
    const databases = await usableDatabases(options, skip)
    /**
     * Our server on `database`: the current build, then each compared one. The many-node rows
     * (over Redis, one node or several) run unprofiled unless `--cpu-prof-all`, like the
     * Socket.IO nodes they are divided by: three profilers' threads would otherwise compete for
     * two cores with the nodes, PostgreSQL and Redis.
     */
    const oursOn = (database: DatabaseKind, extra: Partial<OursOptions> = {}) =>
      ourBuilds.map(
        ({ cli, short }) =>
          new OursDriver({
            ...(extra.redisUrl === undefined ? oursOptions : baselineOptions),
            cli,
            ...(short !== undefined && { build: short }),
            database,
            postgresUrl: options.postgresUrl,
            maxUsers: options.scale.maxUsers,
            ...extra,
          }),
      )
    const ours = databases.flatMap((database) => oursOn(database))
    const baselines = [
      new BaselineDriver({ ...baselineOptions, kind: 'bare-ws' }),
      new BaselineDriver({ ...baselineOptions, kind: 'socket.io' }),
    ]
    /**
     * Where messages flow, the bare ws server storing in each database too: the floor under any
     * server that stores before broadcasting there, which the reasons set ours against.
     */
    const storingFloor = databases.map(
      (database) =>
        new BaselineDriver({
          ...baselineOptions,
          kind: STORING_FLOORS[database],
          postgresUrl: options.postgresUrl,
        }),
    )
    const everyServer: ServerDriver[] = [...ours, ...baselines, ...storingFloor]
    /**
     * Saturation measures the rate a server holds, and a profiler lowers it: ours runs it
     * unprofiled, like the baselines it is divided by, unless every server is (`--cpu-prof-all`).
     */
    const saturating: ServerDriver[] = [
      ...databases.flatMap((database) =>
        oursOn(database, { cpuProfileDir: baselineOptions.cpuProfileDir }),
      ),
      ...baselines,
      ...storingFloor,
    ]
    /**
     * Fan-out also runs the current build on SQLite with its files on tmpfs, where the machine
     * has one: beside the row on disk, it shows what the disk costs our tail.
     */
    const inMemory =
      tmpfsDir !== undefined && databases.includes('sqlite')
        ? oursOn('sqlite', { tmpfsDir }).slice(0, 1)
        : []
    /** A measurement taken beside the rows (a store or a database alone): the rows run anyway. */
    const besideTheRows = async (workload: string, server: string, work: () => Promise<void>) => {
      try {
        await work()
      } catch (error) {
        skip({ workload, server, reason: firstLine(error) })
      }
    }
    /** Our SQLite store alone, beside the rows of `workload`, at the batches `spec` gives. */
    const storeAlone = (workload: string, spec: StoreAloneSpec) =>
      besideTheRows('store alone', 'ours-sqlite', async () => {
        log(`${workload}: SQLite storing alone, ${spec.batches.join(' and ')} per commit`)
        results.storeAlone.push(...(await runStoreAlone(path.dirname(build.cli), spec, context)))
      })
    const attempt = async (workload: string, driver: ServerDriver, work: () => Promise<void>) => {
      log(`${workload}: ${driver.label}`)
      const earlierProfiles = new Set(profileDir === undefined ? [] : listCpuProfiles(profileDir))
      const earlierWindows = measuredWindows().length
      try {
        await work()
      } catch (error) {
        skip({ workload, server: driver.id, reason: firstLine(error) })
        log(error instanceof Error ? (error.stack ?? String(error)) : String(error))
      }
      // Each server process writes its profile as it exits, which `stop` waits for.
      if (profileDir !== undefined && driver.isProfiled) {
        const files = listCpuProfiles(profileDir).filter((file) => !earlierProfiles.has(file))
        if (files.length > 0) {
          const windows = measuredWindows().slice(earlierWindows)
          results.profileRuns.push({ workload, server: serverInfo(driver), files, windows })
        }
      }
    }

    for (const workload of options.workloads) {
      switch (workload) {
        case 'fan-out':
        case 'group': {
          const spec = workload === 'fan-out' ? options.scale.fanOut : options.scale.group
          const into = workload === 'fan-out' ? results.fanOut : results.group
          if (workload === 'fan-out') {
            for (const database of databases) {
              log(`fan-out: ${DATABASE_NAMES[database]} committing alone`)
              // If it fails, the report sets no commit time against the rows' p99.
              await besideTheRows('commit alone', `ours-${database}`, async () => {
                results.commitAlone.push(
                  await runCommitAlone(database, options.scale.commitAlone, {
                    ...context,
                    workDir,
                    postgresUrl: options.postgresUrl,
                  }),
                )
              })
            }
            if (databases.includes('sqlite')) {
              await storeAlone(workload, options.scale.storeAloneAtFanOut)
            }
          }
          const servers =
            workload === 'fan-out'
              ? [...ours, ...inMemory, ...baselines, ...storingFloor]
              : everyServer
          for (const driver of servers) {
            await attempt(workload, driver, async () => {
              into.push(await runSteady(workload, driver, spec, context))
            })
          }
          break
        }
        case 'saturation':
          // If it fails, the report prices no SQLite target against the machine.
          if (databases.includes('sqlite')) await storeAlone(workload, options.scale.storeAlone)
          for (const driver of saturating) {
            await attempt(workload, driver, async () => {
              results.saturation.push(
                await runSaturation('saturation', driver, options.scale.saturation, context),
              )
            })
          }
          break
        case 'idle':
          // Memory per socket hardly depends on the database: the embedded default stands for ours.
          for (const count of options.scale.idle.socketCounts) {
            const oursIdle = ours.filter((driver) => driver.options.database === databases[0])
            for (const driver of [...oursIdle, ...baselines]) {
              await attempt(`idle ${count}`, driver, async () => {
                results.idle.push(await runIdle(driver, count, options.scale.idle, context))
              })
            }
          }
          break
        case 'history':
          for (const driver of ours) {
            await attempt(workload, driver, async () => {
              results.history.push(...(await runHistory(driver, options.scale.history, context)))
            })
          }
          break
        case 'scale-out': {
          const many: ServerDriver[] = [
            new BaselineDriver({
              ...baselineOptions,
              kind: 'socket.io',
              nodes: SOCKET_IO_NODES,
              redisUrl: options.redisUrl,
            }),
            // Several nodes share one database: PostgreSQL is what that is for.
            ...oursOn(databases.includes('postgres') ? 'postgres' : (databases[0] ?? 'sqlite'), {
              nodes: OUR_NODES,
              redisUrl: options.redisUrl,
            }),
            // The floor under any server storing first on as many nodes: bare ws storing in
            // PostgreSQL, its messages relayed through Redis.
            ...(databases.includes('postgres')
              ? [
                  new BaselineDriver({
                    ...baselineOptions,
                    kind: STORING_FLOORS.postgres,
                    nodes: OUR_NODES,
                    redisUrl: options.redisUrl,
                    postgresUrl: options.postgresUrl,
                  }),
                ]
              : []),
          ]
          for (const driver of many) {
            await attempt(workload, driver, async () => {
              const outcome = await runScaleOut(
                driver,
                options.scale.scaleOut,
                options.redisUrl,
                context,
              )
              if ('reason' in outcome) skip({ workload, server: driver.id, reason: outcome.reason })
              else results.scaleOut.push(outcome)
            })
          }
          break
        }
        case 'nginx': {
          // Always PostgreSQL, whatever --db says: several nodes need a database they can share.
          // One node with the clients on it, then three behind nginx; both over Redis. Each
          // compared build gets its pair after the current build's.
          const [one, three] = [1, OUR_NODES].map((nodes) =>
            oursOn('postgres', { nodes, redisUrl: options.redisUrl, behindNginx: nodes > 1 }),
          )
          const pair = one!.flatMap((driver, index) => [driver, three![index]!])
          const problem = await nginxRowsProblem(options.postgresUrl, options.redisUrl)
          if (problem !== undefined) {
            for (const driver of pair) skip({ workload, server: driver.id, reason: problem })
            break
          }
          const spec = options.scale.nginx
          for (const driver of pair) {
            await attempt(`${workload} fan-out`, driver, async () => {
              results.nginxFanOut.push(await runSteady(workload, driver, spec.fanOut, context))
            })
          }
          for (const driver of pair) {
            await attempt(`${workload} saturation`, driver, async () => {
              results.nginxSaturation.push(
                await runSaturation(workload, driver, spec.saturation, context),
              )
            })
          }
          break
        }
      }
    }
  } finally {
    build.dispose()
    for (const compared of comparedBuilds) compared.dispose()
    fs.rmSync(workDir, { recursive: true, force: true })
    if (tmpfsDir !== undefined) fs.rmSync(tmpfsDir, { recursive: true, force: true })
  }
  results.finishedAt = new Date().toISOString()
  return results
}

/** A compared revision's build, or undefined (its rows say why under "Not run") if it fails. */
function buildComparedRevision(
  revision: ComparedRevision,
  log: (line: string) => void,
  skip: (row: NotRun) => void,
): ServerBuild | undefined {
  log(`building @${revision.short} (${revision.subject}) in a temporary git worktree`)
  const started = performance.now()
  try {
    const built = buildRevision(revision, log)
    log(`  @${revision.short} built in ${((performance.now() - started) / 1_000).toFixed(0)} s`)
    return built
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    skip({ workload: 'all', server: `ours@${revision.short}`, reason })
    return undefined
  }
}

/** The databases asked for that answer; PostgreSQL's rows say why when it does not. */
async function usableDatabases(
  options: BenchOptions,
  skip: (row: NotRun) => void,
): Promise<DatabaseKind[]> {
  const usable: DatabaseKind[] = []
  for (const database of options.databases) {
    if (database === 'postgres') {
      const problem = await isPostgresReachable(options.postgresUrl)
      if (problem !== undefined) {
        skip({ workload: 'all', server: 'ours-postgres', reason: `PostgreSQL: ${problem}` })
        continue
      }
    }
    usable.push(database)
  }
  return usable
}

/** What a report keeps of an error: its first line. */
function firstLine(error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  return reason.split('\n')[0]!
}

/** Linux's `statfs` type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994
const SHARED_MEMORY = '/dev/shm'

/** Whether `/dev/shm` is a tmpfs (memory), where fan-out runs ours a second time. */
export function hasSharedMemoryTmpfs(): boolean {
  try {
    return fs.statfsSync(SHARED_MEMORY).type === TMPFS_MAGIC
  } catch {
    return false
  }
}

/** A fresh folder on that tmpfs, if there is one we may write to (else no row, and no failure). */
function tmpfsFolder(): string | undefined {
  if (!hasSharedMemoryTmpfs()) return undefined
  try {
    return fs.mkdtempSync(path.join(SHARED_MEMORY, 'swipesavvy-bench-'))
  } catch {
    return undefined
  }
}
