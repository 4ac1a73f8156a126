import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from '../options.js'

export interface ServerBuild {
  /** The command-line entry of the copy: `node <cli> serve`. */
  cli: string
  dispose(): void
}

/** A revision of our server measured beside the working tree's (`--compare`). */
export interface ComparedRevision {
  /** As given on the command line: `577808f`, `main~3`, `v0.1.0`. */
  rev: string
  commit: string
  /** `git rev-parse --short`: what row labels show, `swipesavvy-chat @577808f, SQLite`. */
  short: string
  subject: string
}

/**
 * A private copy of a built server (`dist/src`, unless `distSrc` names another) for one run. The
 * test command rebuilds `dist/` before it runs, and a run of several minutes must measure one build
 * throughout, not whatever another build left there by the time each server starts. The copy
 * sits inside `dist/`, so it resolves the same packages (`node_modules`) and module type
 * (`package.json`) as the original.
 */
export function snapshotServerBuild(
  distSrc = path.join(REPO_ROOT, 'dist', 'src'),
  name = String(process.pid),
): ServerBuild {
  const folder = path.join(REPO_ROOT, 'dist', `bench-server-${name}`)
  if (!fs.existsSync(path.join(distSrc, 'cli.js'))) {
    throw new Error(`no built server in ${distSrc}: run npm run build first`)
  }
  fs.rmSync(folder, { recursive: true, force: true })
  fs.cpSync(distSrc, path.join(folder, 'src'), { recursive: true })
  return {
    cli: path.join(folder, 'src', 'cli.js'),
    dispose: () => fs.rmSync(folder, { recursive: true, force: true }),
  }
}

/** Which commit `rev` names, or an error saying it names none. */
export function resolveRevision(rev: string): ComparedRevision {
  let commit: string
  try {
    commit = git(REPO_ROOT, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`)
  } catch {
    throw new Error(`--compare: git knows no commit "${rev}"`)
  }
  return {
    rev,
    commit,
    short: git(REPO_ROOT, 'rev-parse', '--short', commit),
    subject: git(REPO_ROOT, 'log', '-1', '--format=%s', commit),
  }
}

/**
 * Our server as it was at `revision`: checked out into a temporary `git worktree`, built there
 * with the repository's own `node_modules` (linked, not installed: the packages measured are
 * today's), and copied privately like the current build, by `snapshotServerBuild`. The worktree
 * is removed once the copy is made, whether or not the build succeeded; the copy lives until
 * `dispose`.
 *
 * `tsc` writes JavaScript even where it reports type errors (an old revision checked against
 * today's type packages may have some); the build is used if the server's entry was written, and
 * `log` says what tsc reported.
 */
export function buildRevision(
  revision: ComparedRevision,
  log: (line: string) => void,
): ServerBuild {
  const worktree = fs.mkdtempSync(path.join(os.tmpdir(), `swipesavvy-bench-${revision.short}-`))
  try {
    git(REPO_ROOT, 'worktree', 'add', '--detach', '--quiet', worktree, revision.commit)
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(worktree, 'node_modules'))
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
        cwd: worktree,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    } catch (error) {
      const output = (error as { stdout?: string }).stdout ?? String(error)
      const built = path.join(worktree, 'dist', 'src', 'cli.js')
      if (!fs.existsSync(built)) {
        throw new Error(`@${revision.short} did not build: ${firstLines(output, 5)}`)
      }
      log(`  @${revision.short}: tsc reported errors; its output is used: ${firstLines(output, 3)}`)
    }
    return snapshotServerBuild(
      path.join(worktree, 'dist', 'src'),
      `${process.pid}-${revision.short}`,
    )
  } finally {
    removeWorktree(worktree)
  }
}

function removeWorktree(worktree: string): void {
  try {
    git(REPO_ROOT, 'worktree', 'remove', '--force', worktree)
  } catch {
    // Not registered (the `add` failed), or already gone: remove the folder and git's record.
    fs.rmSync(worktree, { recursive: true, force: true })
    try {
      git(REPO_ROOT, 'worktree', 'prune')
    } catch {
      // Nothing to prune.
    }
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

function firstLines(text: string, count: number): string {
  return text.trim().split('\n').slice(0, count).join(' / ')
}
