import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BenchOptions } from './options.js'
import { describeMachine, describeRevision } from './report/machine.js'
import type { BenchResults, NotRun } from './results.js'
import { BaselineDriver } from './servers/baseline-driver.js'
import { isPostgresReachable, type DatabaseKind } from './servers/bench-database.js'
import { OursDriver } from './servers/ours-driver.js'
import { snapshotServerBuild } from './servers/server-build.js'
import type { DriverOptions, ServerDriver } from './servers/server-driver.js'
import type { WorkloadContext } from './workloads/context.js'
import { runHistory } from './workloads/history.js'
import { runIdle } from './workloads/idle.js'
import { nginxRowsProblem } from './workloads/nginx.js'
import { runSaturation } from './workloads/saturation.js'
import { runScaleOut } from './workloads/scale-out.js'
import { runSteady } from './workloads/steady.js'

/**
 * Nodes in the many-node rows: ours over its Redis bus (also behind nginx), Socket.IO over its
 * Redis adapter.
 */
const OUR_NODES = 3
const SOCKET_IO_NODES = 2

/**
 * Runs the chosen workloads against every server, one server at a time: each run starts its own
 * server process with its own database, so no run inherits another's memory or data. A run that
 * fails becomes a "not run" row with the reason, and the rest carry on.
 */
export async function runSuite(
  options: BenchOptions,
  log: (line: string) => void,
): Promise<BenchResults> {
  const startedAt = new Date().toISOString()
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swipesavvy-bench-'))
  const results: BenchResults = {
    startedAt,
    finishedAt: startedAt,
    mode: options.mode,
    command: options.command,
    revision: describeRevision(),
    machine: describeMachine(),
    fanOut: [],
    group: [],
    saturation: [],
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
  if (options.cpuProfileDir !== undefined) fs.mkdirSync(options.cpuProfileDir, { recursive: true })
  const driverOptions: DriverOptions = { workDir, cpuProfileDir: options.cpuProfileDir }
  const build = snapshotServerBuild()

  try {
    const databases = await usableDatabases(options, skip)
    const ours = databases.map(
      (database) =>
        new OursDriver({
          ...driverOptions,
          cli: build.cli,
          database,
          postgresUrl: options.postgresUrl,
          maxUsers: options.scale.maxUsers,
        }),
    )
    const baselines = [
      new BaselineDriver({ ...driverOptions, kind: 'bare-ws' }),
      new BaselineDriver({ ...driverOptions, kind: 'socket.io' }),
    ]
    const everyServer: ServerDriver[] = [...ours, ...baselines]
    const attempt = async (workload: string, driver: ServerDriver, work: () => Promise<void>) => {
      log(`${workload}: ${driver.label}`)
      try {
        await work()
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        skip({ workload, server: driver.id, reason: reason.split('\n')[0]! })
        log(error instanceof Error ? (error.stack ?? reason) : reason)
      }
    }

    for (const workload of options.workloads) {
      switch (workload) {
        case 'fan-out':
        case 'group': {
          const spec = workload === 'fan-out' ? options.scale.fanOut : options.scale.group
          const into = workload === 'fan-out' ? results.fanOut : results.group
          for (const driver of everyServer) {
            await attempt(workload, driver, async () => {
              into.push(await runSteady(workload, driver, spec, context))
            })
          }
          break
        }
        case 'saturation':
          for (const driver of everyServer) {
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
            for (const driver of [...ours.slice(0, 1), ...baselines]) {
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
              ...driverOptions,
              kind: 'socket.io',
              nodes: SOCKET_IO_NODES,
              redisUrl: options.redisUrl,
            }),
            new OursDriver({
              ...driverOptions,
              cli: build.cli,
              // Several nodes share one database: PostgreSQL is what that is for.
              database: databases.includes('postgres') ? 'postgres' : (databases[0] ?? 'sqlite'),
              postgresUrl: options.postgresUrl,
              maxUsers: options.scale.maxUsers,
              nodes: OUR_NODES,
              redisUrl: options.redisUrl,
            }),
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
          // One node with the clients on it, then three behind nginx; both over Redis.
          const pair = [1, OUR_NODES].map(
            (nodes) =>
              new OursDriver({
                ...driverOptions,
                cli: build.cli,
                database: 'postgres',
                postgresUrl: options.postgresUrl,
                maxUsers: options.scale.maxUsers,
                nodes,
                redisUrl: options.redisUrl,
                behindNginx: nodes > 1,
              }),
          )
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
    fs.rmSync(workDir, { recursive: true, force: true })
  }
  results.finishedAt = new Date().toISOString()
  return results
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
