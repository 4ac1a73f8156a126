import fs from 'node:fs'
import path from 'node:path'
import * as prettier from 'prettier'
import { REPO_ROOT, type BenchOptions } from '../options.js'
import { summariseRun, type RunProfile } from '../profile/cpu-profile.js'
import { flameGraphName, renderFlameGraph } from '../profile/flame-graph.js'
import type { BenchResults, ProfileRun } from '../results.js'
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
/** The docs page keeps the flame graphs of its runs' measured windows (a few hundred KB). */
const DOCS_FLAME_GRAPHS = path.join(REPO_ROOT, 'docs', 'flame-graphs')

/**
 * Writes `<stamp>.md`, `<stamp>.svg` and `<stamp>.raw.json` into the results folder, the same as
 * `latest.*`, and for a full run the page `docs/benchmarks.md` with its chart. The raw JSON is
 * ignored by git (it is large and machine-specific); the Markdown and SVG are meant to be kept.
 * Markdown goes through Prettier with the repository's settings, so the docs page passes
 * `npm run format:check` as written. Each profiled run's flame graph goes beside its profiles
 * (which git ignores); the docs page gets copies of those over measured windows.
 */
export async function writeReport(
  results: BenchResults,
  options: BenchOptions,
): Promise<WrittenReport> {
  const stamp = fileStamp(results.startedAt)
  fs.mkdirSync(options.outDir, { recursive: true })
  const profiles = results.profileRuns.map((run) => summariseRun(run))
  const flameGraphs = new Map(
    results.profileRuns.map((run, i) => [profiles[i]!, writeFlameGraph(run)] as const),
  )
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
      await formatMarkdown(
        renderMarkdown(results, {
          chartPath: `${name}.svg`,
          profiles,
          ...(options.cpuProfileDir !== undefined && {
            flameGraphs: {
              dir: path.relative(options.outDir, options.cpuProfileDir),
              has: (profile) => flameGraphs.has(profile),
            },
          }),
        }),
      ),
    )
  }
  let docs: string | undefined
  if (options.updatesDocs) {
    fs.mkdirSync(path.dirname(DOCS_PAGE), { recursive: true })
    fs.writeFileSync(DOCS_CHART, chart)
    const kept = copyFlameGraphsToDocs(flameGraphs)
    const page = renderMarkdown(results, {
      chartPath: 'benchmarks.svg',
      profiles,
      flameGraphs: { dir: path.basename(DOCS_FLAME_GRAPHS), has: (profile) => kept.has(profile) },
    })
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

/** Writes the run's flame graph beside its profiles; returns its path. */
function writeFlameGraph(run: ProfileRun): string {
  const file = path.join(path.dirname(run.files[0]!), flameGraphName(run))
  fs.writeFileSync(
    file,
    renderFlameGraph(run.files, run.windows, `${run.workload}, ${run.server.label}`),
  )
  return file
}

/** Replaces the docs' flame graphs with this run's over measured windows; returns the runs kept. */
function copyFlameGraphsToDocs(flameGraphs: Map<RunProfile, string>): Set<RunProfile> {
  fs.rmSync(DOCS_FLAME_GRAPHS, { recursive: true, force: true })
  fs.mkdirSync(DOCS_FLAME_GRAPHS, { recursive: true })
  const kept = new Set<RunProfile>()
  for (const [profile, file] of flameGraphs) {
    if (!profile.windowed) continue
    fs.copyFileSync(file, path.join(DOCS_FLAME_GRAPHS, path.basename(file)))
    kept.add(profile)
  }
  return kept
}

async function formatMarkdown(text: string): Promise<string> {
  const config = await prettier.resolveConfig(DOCS_PAGE)
  return prettier.format(text, { ...config, parser: 'markdown' })
}

/** `2025-12-29T10:05:00.123Z` → `2025-12-29T10-05-00Z`: sortable, and valid in every file system. */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
}
