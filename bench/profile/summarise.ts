#!/usr/bin/env node
import fs from 'node:fs'
import path from 'node:path'
import { summariseCpuProfile } from './cpu-profile.js'
import { renderFlameGraph } from './flame-graph.js'

/**
 * `node dist/bench/profile/summarise.js <file.cpuprofile>…`: the top self-time functions of each
 * profile, as the report shows them, and its flame graph beside it (`<file>.svg`, over the whole
 * profile), for profiles taken outside a bench run (`node --cpu-prof dist/src/main.js`). Chrome
 * DevTools (Performance → Load profile) and speedscope open the same file too.
 */
const files = process.argv.slice(2)
if (files.length === 0) {
  process.stderr.write('Usage: node dist/bench/profile/summarise.js <file.cpuprofile>…\n')
  process.exitCode = 2
}
for (const file of files) {
  const summary = summariseCpuProfile(file, 25)
  const busy = summary.durationMs - summary.idleMs
  process.stdout.write(
    `\n${file}\n  ${(summary.durationMs / 1_000).toFixed(1)} s profiled, ${(busy / 1_000).toFixed(1)} s busy, ` +
      `${(summary.garbageCollectionMs / 1_000).toFixed(2)} s in GC\n\n  self ms   share  function\n`,
  )
  for (const entry of summary.topFunctions) {
    process.stdout.write(
      `  ${entry.selfMs.toFixed(0).padStart(7)}  ${(entry.selfShare * 100).toFixed(1).padStart(5)}%  ${entry.name}  ${entry.location}\n`,
    )
  }
  process.stdout.write('\n  by module\n')
  for (const entry of summary.byModule) {
    process.stdout.write(
      `  ${entry.selfMs.toFixed(0).padStart(7)}  ${(entry.selfShare * 100).toFixed(1).padStart(5)}%  ${entry.module}\n`,
    )
  }
  const flameGraph = `${file.replace(/\.cpuprofile$/, '')}.svg`
  fs.writeFileSync(flameGraph, renderFlameGraph([file], [], path.basename(file)))
  process.stdout.write(`\n  flame graph: ${flameGraph}\n`)
}
