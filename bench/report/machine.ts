import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { REPO_ROOT } from '../options.js'
import type { MachineInfo } from '../results.js'

export function describeMachine(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  }
}

/**
 * The commit the servers were built from, and whether `src/` differed from it: `npm run bench`
 * builds the working tree, so figures are only comparable when this says which code they measure.
 */
export function describeRevision(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  try {
    const commit = git('rev-parse', '--short', 'HEAD')
    const changed = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter((line) => line !== '')
    return changed.length === 0
      ? `commit ${commit}`
      : `commit ${commit} with uncommitted changes to ${changed.length} file(s) in src/`
  } catch {
    return 'unknown (not a git checkout)'
  }
}
