import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../options.js'

export interface ServerBuild {
  /** The command-line entry of the copy: `node <cli> serve`. */
  cli: string
  dispose(): void
}

/**
 * A private copy of the built server (`dist/src`) for one run. The test command rebuilds `dist/`
 * before it runs, and a run of several minutes must measure one build throughout, not whatever
 * another build left there by the time each server starts. The copy sits inside `dist/`, so it
 * resolves the same packages (`node_modules`) and module type (`package.json`) as the original.
 */
export function snapshotServerBuild(): ServerBuild {
  const source = path.join(REPO_ROOT, 'dist', 'src')
  const folder = path.join(REPO_ROOT, 'dist', `bench-server-${process.pid}`)
  if (!fs.existsSync(path.join(source, 'cli.js'))) {
    throw new Error(`no built server in ${source}: run npm run build first`)
  }
  fs.rmSync(folder, { recursive: true, force: true })
  fs.cpSync(source, path.join(folder, 'src'), { recursive: true })
  return {
    cli: path.join(folder, 'src', 'cli.js'),
    dispose: () => fs.rmSync(folder, { recursive: true, force: true }),
  }
}
