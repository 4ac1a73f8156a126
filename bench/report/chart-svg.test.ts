import { describe, expect, it } from 'vitest'
import type { BenchResults, SteadyResult } from '../results.js'
import { renderChart } from './chart-svg.js'

/** A run with one fan-out row per label, and nothing else. */
function runWith(labels: string[]): BenchResults {
  const fanOut = labels.map(
    (label, index) =>
      ({
        workload: 'fan-out',
        server: { id: `server-${index}`, label, kind: 'ours', nodes: 1, profiled: false },
        measured: { p99Ms: 1 + index },
      }) as SteadyResult,
  )
  return {
    machine: { cpuModel: 'test', cores: 2, memoryBytes: 1, node: 'v20', os: 'Linux' },
    startedAt: '2026-01-01T00:00:00.000Z',
    saturation: [],
    scaleOut: [],
    nginxSaturation: [],
    fanOut,
    nginxFanOut: [],
    group: [],
  } as unknown as BenchResults
}

/** Where the labels end: their right edge, `text-anchor="end"`. */
const labelEdge = (svg: string) => Number(/<text x="([\d.]+)"[^>]*text-anchor="end"/.exec(svg)![1])
const svgWidth = (svg: string) => Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1])

describe('the chart', () => {
  it('keeps its label column for short labels', () => {
    const svg = renderChart(runWith(['bare ws', 'Socket.IO 4']))

    expect(labelEdge(svg)).toBe(332)
    expect(svgWidth(svg)).toBe(960)
  })

  it("widens the label column, and the chart, to a compared build's long label", () => {
    const long = 'swipesavvy-chat @fc2a4a0, PostgreSQL, 3 nodes behind nginx'
    const svg = renderChart(runWith(['bare ws', long]))

    // About 6.6 px a character at 12 px: the whole label fits left of its bars.
    expect(labelEdge(svg)).toBeGreaterThanOrEqual(long.length * 6.6)
    expect(svgWidth(svg)).toBe(labelEdge(svg) + 8 + 470 + 150)
  })
})
