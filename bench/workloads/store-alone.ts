import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { StoreAloneResult } from '../results.js'
import type { StoreAloneSpec } from '../scales.js'
import type { WorkloadContext } from './context.js'

const CHILD = path.join(import.meta.dirname, 'store-alone-child.js')

/**
 * What storing costs on this machine, with nothing else running in the process: our SQLite store
 * fed the saturation workload's messages in groups of each size in `spec.batches`. The least of
 * these is a floor under any server built on it, which the report sets against the targets; one
 * message per commit, beside the fan-out rows, is what storing costs at that rate.
 */
export async function runStoreAlone(
  buildDir: string,
  spec: StoreAloneSpec,
  context: WorkloadContext,
): Promise<StoreAloneResult[]> {
  const results: StoreAloneResult[] = []
  for (const batch of spec.batches) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swipesavvy-store-alone-'))
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [
        CHILD,
        buildDir,
        dataDir,
        String(spec.sessions),
        String(batch),
        String(spec.messages),
      ])
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as StoreAloneResult
      context.log(
        `  SQLite alone, ${batch} per commit: ${result.cpuMicrosPerMessage.toFixed(1)} µs CPU per message`,
      )
      results.push(result)
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  return results
}
