import fs from 'node:fs'
import path from 'node:path'
import * as prettier from 'prettier'
import { REPO_ROOT, type BenchOptions } from '../options.js'
import { summariseRun } from '../profile/cpu-profile.js'
import type { BenchResults } from '../results.js'
import { renderChart } from './chart-svg.js'
import { renderMarkdown } from './markdown.js'

export interface WrittenReport {
  markdown: string
  chart: string
  raw: string
  docs: string | undefined
}

const DOCS_PAGE = path.join(REPO_ROOT, 'docs', 'benchmarks.md')
const DOCS_CHART = path.join(REPO_ROOT, 'docs', 'benchmarks.svg')

/**
 * Writes `<stamp>.md`, `<stamp>.svg` and `<stamp>.raw.json` into the results folder, the same as
 * `latest.*`, and for a full run the page `docs/benchmarks.md` with its chart. The raw JSON is
 * ignored by git (it is large and machine-specific); the Markdown and SVG are meant to be kept.
 * Markdown goes through Prettier with the repository's settings, so the docs page passes
 * `npm run format:check` as written.
 */
export async function writeReport(
  results: BenchResults,
  options: BenchOptions,
): Promise<WrittenReport> {
  const stamp = fileStamp(results.startedAt)
  fs.mkdirSync(options.outDir, { recursive: true })
  const profiles = results.profileRuns.map((run) => summariseRun(run))
  const chart = renderChart(results)
  const raw = `${JSON.stringify({ ...results, profiles }, null, 2)}\n`
  const write = (name: string, text: string) => {
    const file = path.join(options.outDir, name)
    fs.writeFileSync(file, text)
    return file
  }
  for (const name of [stamp, 'latest']) {
    write(`${name}.svg`, chart)
    write(`${name}.raw.json`, raw)
    write(
      `${name}.md`,
      await formatMarkdown(renderMarkdown(results, { chartPath: `${name}.svg`, profiles })),
    )
  }
  let docs: string | undefined
  if (options.updatesDocs) {
    fs.mkdirSync(path.dirname(DOCS_PAGE), { recursive: true })
    fs.writeFileSync(DOCS_CHART, chart)
    const page = renderMarkdown(results, { chartPath: 'benchmarks.svg', profiles })
    fs.writeFileSync(
      DOCS_PAGE,
      await formatMarkdown(
        `<!-- Written by \`npm run bench\` (bench/report/write-report.ts); edits here are overwritten. -->\n\n${page}\n` +
          'How the figures are made, and how to run the bench yourself: [bench/README.md](../bench/README.md).\n',
      ),
    )
    docs = DOCS_PAGE
  }
  return {
    markdown: path.join(options.outDir, `${stamp}.md`),
    chart: path.join(options.outDir, `${stamp}.svg`),
    raw: path.join(options.outDir, `${stamp}.raw.json`),
    docs,
  }
}

async function formatMarkdown(text: string): Promise<string> {
  const config = await prettier.resolveConfig(DOCS_PAGE)
  return prettier.format(text, { ...config, parser: 'markdown' })
}

/** `2025-12-29T10:05:00.123Z` → `2025-12-29T10-05-00Z`: sortable, and valid in every file system. */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
}
