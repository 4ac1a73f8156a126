#!/usr/bin/env node
import { parseBenchOptions, USAGE } from './options.js'
import { writeReport } from './report/write-report.js'
import { runSuite } from './suite.js'

/** `npm run bench`: runs the workloads against every server and writes the report. */
async function main(): Promise<number> {
  let options
  try {
    options = parseBenchOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`)
    return 2
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const log = (line: string) => process.stdout.write(`${line}\n`)
  const started = performance.now()
  const results = await runSuite(options, log)
  const written = await writeReport(results, options)
  log(`\nReport: ${written.markdown}\nChart: ${written.chart}\nRaw figures: ${written.raw}`)
  if (written.docs !== undefined) log(`Docs: ${written.docs}`)
  log(`Done in ${((performance.now() - started) / 60_000).toFixed(1)} min.`)
  return 0
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  },
)
