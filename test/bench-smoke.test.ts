import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import type { BenchResults, Measured } from '../bench/results.js'
import { DATABASE_NAMES } from '../bench/servers/bench-database.js'
import { hasSharedMemoryTmpfs } from '../bench/suite.js'

// The smoke run goes through the built bench (`npm test` builds first), as `npm run bench` does.
const RUN = path.resolve(import.meta.dirname, '../dist/bench/run.js')
const database = process.env.CHAT_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite'
// What the nginx rows may be skipped for: a missing nginx, Redis or PostgreSQL (it always uses it).
const NGINX_PREREQUISITE = /^(no nginx at|no Redis at|PostgreSQL \(which several nodes share\))/

describe('npm run bench -- --smoke', () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'))
  afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }))

  it('writes a report with figures for every server and no lost or duplicated delivery', async () => {
    await promisify(execFile)(
      process.execPath,
      [RUN, '--smoke', '--db', database, '--out', outDir],
      { maxBuffer: 16 * 1024 * 1024 },
    )

    const report = fs.readFileSync(path.join(outDir, 'latest.md'), 'utf8')
    const results = JSON.parse(
      fs.readFileSync(path.join(outDir, 'latest.raw.json'), 'utf8'),
    ) as BenchResults
    // The bare ws server storing in the database runs beside our rows on it.
    const servers = [`ours-${database}`, 'bare-ws', 'socketio', `bare-ws-${database}`]
    expect(report).toContain('## Targets')
    expect(report).toContain(
      `The baselines store nothing, but for _bare ws storing in ${DATABASE_NAMES[database]}_`,
    )
    // A table row of ours with figures in it (Prettier pads the cells).
    expect(report).toMatch(/\| swipesavvy-chat, \w+ +\| +\d[\d,]* +\| +\d[\d,]* +\|/)
    expect(fs.readFileSync(path.join(outDir, 'latest.svg'), 'utf8')).toContain('<svg')
    // Only the many-node rows may be missing (no Redis, or a server without cross-node delivery),
    // and the nginx rows only for want of nginx, Redis or PostgreSQL.
    const nginxNotRun = results.notRun.filter((row) => row.workload.startsWith('nginx'))
    expect(
      results.notRun.filter((row) => row.workload !== 'scale-out' && !nginxNotRun.includes(row)),
    ).toEqual([])
    for (const row of nginxNotRun) expect(row.reason).toMatch(NGINX_PREREQUISITE)
    if (nginxNotRun.length === 0) {
      const pair = ['ours-postgres-redis-1', 'ours-postgres-nginx-3']
      expect(results.nginxFanOut.map((row) => row.server.id)).toEqual(pair)
      expect(results.nginxSaturation.map((row) => row.server.id)).toEqual(pair)
      expect(report).toContain('## One node vs three nodes behind nginx')
      expect(report).toMatch(/\| One node vs three nodes behind nginx +\| three nodes hold \d/)
    }

    const windows: Array<{ server: string; measured: Measured }> = [
      ...[...results.fanOut, ...results.group, ...results.nginxFanOut].map((row) => ({
        server: row.server.id,
        measured: row.measured,
      })),
      ...[...results.saturation, ...results.scaleOut, ...results.nginxSaturation].flatMap((row) =>
        row.steps.map((step) => ({ server: row.server.id, measured: step })),
      ),
    ]
    // Fan-out also runs ours on SQLite with its files on tmpfs, where /dev/shm is one.
    const onTmpfs = database === 'sqlite' && hasSharedMemoryTmpfs() ? ['ours-sqlite-tmpfs'] : []
    expect(results.fanOut.map((row) => row.server.id)).toEqual([
      servers[0],
      ...onTmpfs,
      ...servers.slice(1),
    ])
    expect(results.group.map((row) => row.server.id)).toEqual(servers)
    expect(results.saturation.map((row) => row.server.id)).toEqual(servers)
    for (const { server, measured } of windows) {
      expect({ server, delivered: measured.delivered > 0 }).toEqual({ server, delivered: true })
      expect({ server, lost: measured.lost, duplicates: measured.duplicates }).toEqual({
        server,
        lost: 0,
        duplicates: 0,
      })
      expect(measured.p99Ms).toBeGreaterThan(0)
      // Every server process has threads beside its event loop (V8's, libuv's, our store's).
      expect({ server, otherThreadCores: measured.otherThreadCores! >= 0 }).toEqual({
        server,
        otherThreadCores: true,
      })
    }
    for (const row of results.idle) {
      expect({ server: row.server.id, held: row.held }).toEqual({
        server: row.server.id,
        held: row.requested,
      })
    }
    // The floor under the fan-out p99: the database committing alone, shown under the fan-out rows.
    expect(results.commitAlone.map((row) => row.database)).toEqual([database])
    for (const row of results.commitAlone) expect(row.p50Ms).toBeGreaterThan(0)
    expect(report).toMatch(/\| (SQLite|PostgreSQL) +\| +\d+ +\| +[\d.]+ +\| +[\d.]+ +\|/)
    expect(results.history.length).toBeGreaterThan(0)
    for (const row of results.history) expect(row.p50Ms).toBeGreaterThan(0)
  }, 120_000)
})
