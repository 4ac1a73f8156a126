import type { BenchResults, ServerInfo } from '../results.js'
import type { ServerKind } from '../servers/server-driver.js'
import { count, escapeXml, ms } from './format.js'

/**
 * The report's chart, as plain SVG written here (no charting package): saturation throughput per
 * server on top, end-to-end p99 of the fan-out and group workloads below on a log scale (the
 * servers differ by orders of magnitude there).
 */

/** The label column is at least this wide, and wider when a label needs it (a compared build's). */
const MIN_LABEL_WIDTH = 340
/** About the width of one character of a 12px label, so the longest label fits its column. */
const LABEL_CHAR_WIDTH = 6.6
const BAR_AREA = 470
/** Room right of the longest bar for its figure. */
const BAR_TEXT_ROOM = 150
/** Height of one bar, and the room around the bars of a row. */
const BAR = 13
const ROW_PADDING = 8
const PANEL_GAP = 40
const COLOURS: Record<ServerKind, string> = {
  ours: '#2563eb',
  'bare-ws': '#6b7280',
  'bare-ws-sqlite': '#059669',
  'bare-ws-postgres': '#0d9488',
  'socket.io': '#d97706',
}

interface Bar {
  value: number
  text: string
  colour: string
  opacity: number
}

interface Row {
  label: string
  bars: Bar[]
}

export function renderChart(results: BenchResults): string {
  const throughput: Row[] = [
    ...results.saturation,
    ...results.scaleOut,
    ...results.nginxSaturation,
  ].map((row) => ({
    label: row.server.label,
    bars: [
      {
        value: row.held?.deliveredPerSecond ?? 0,
        text: row.held === undefined ? 'no step held' : `${count(row.held.deliveredPerSecond)}/s`,
        colour: colour(row.server),
        opacity: shade(row.server),
      },
    ],
  }))
  // The nginx workload's rows are at the fan-out shape: they join the fan-out bars.
  const fanOut = [...results.fanOut, ...results.nginxFanOut]
  const servers = uniqueServers([...fanOut, ...results.group].map((row) => row.server))
  const latency: Row[] = servers.map((server) => ({
    label: server.label,
    bars: (['fan-out', 'group'] as const).flatMap((workload) => {
      const rows = workload === 'fan-out' ? fanOut : results.group
      const row = rows.find((candidate) => candidate.server.id === server.id)
      if (row === undefined) return []
      return [
        {
          value: row.measured.p99Ms,
          text: `${workload} ${ms(row.measured.p99Ms)} ms`,
          colour: colour(server),
          opacity: (workload === 'fan-out' ? 1 : 0.55) * shade(server),
        },
      ]
    }),
  }))

  const longest = Math.max(0, ...[...throughput, ...latency].map((row) => row.label.length))
  const labelWidth = Math.max(MIN_LABEL_WIDTH, Math.ceil(longest * LABEL_CHAR_WIDTH) + 24)
  const width = labelWidth + BAR_AREA + BAR_TEXT_ROOM
  const parts: string[] = []
  let y = 30
  parts.push(title(y, 'Saturation: highest deliveries per second held (p99 ≤ 100 ms, none lost)'))
  y += 16
  y = drawPanel(parts, y, labelWidth, throughput, linearScale(throughput))
  y += PANEL_GAP
  parts.push(title(y, 'End-to-end p99 latency, fan-out (solid) and group (light), log scale'))
  y += 16
  y = drawPanel(parts, y, labelWidth, latency, logScale(latency))
  y += 20
  parts.push(
    `<text x="16" y="${y}" font-size="11" fill="#6b7280">${escapeXml(
      `${results.machine.cpuModel}, ${results.machine.cores} cores, Node ${results.machine.node}; ${results.startedAt}`,
    )}</text>`,
  )
  const height = y + 16
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}

function drawPanel(
  parts: string[],
  top: number,
  labelWidth: number,
  rows: Row[],
  scale: (value: number) => number,
): number {
  let y = top
  for (const row of rows) {
    const height = Math.max(1, row.bars.length) * BAR + ROW_PADDING
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + height / 2 + 4}" font-size="12" text-anchor="end" fill="#111827">${escapeXml(row.label)}</text>`,
    )
    row.bars.forEach((bar, index) => {
      const barY = y + ROW_PADDING / 2 + index * BAR
      const width = Math.max(1, scale(bar.value) * BAR_AREA)
      parts.push(
        `<rect x="${labelWidth}" y="${barY}" width="${width.toFixed(1)}" height="${BAR - 2}" fill="${bar.colour}" fill-opacity="${bar.opacity}"/>`,
        `<text x="${(labelWidth + width + 6).toFixed(1)}" y="${barY + BAR - 3}" font-size="11" fill="#374151">${escapeXml(bar.text)}</text>`,
      )
    })
    y += height
  }
  if (rows.length === 0) {
    parts.push(
      `<text x="${labelWidth}" y="${y + 16}" font-size="12" fill="#6b7280">not measured in this run</text>`,
    )
    y += BAR + ROW_PADDING
  }
  return y
}

function linearScale(rows: Row[]): (value: number) => number {
  const max = Math.max(1, ...rows.flatMap((row) => row.bars.map((bar) => bar.value)))
  return (value) => (Number.isFinite(value) ? value / max : 0)
}

/** Bars from 0.1 ms to the largest value, by decades. */
function logScale(rows: Row[]): (value: number) => number {
  const floor = 0.1
  const max = Math.max(
    floor * 10,
    ...rows.flatMap((row) => row.bars.map((bar) => bar.value)).filter(Number.isFinite),
  )
  const span = Math.log10(max / floor)
  return (value) =>
    Number.isFinite(value) ? Math.max(0, Math.log10(Math.max(value, floor) / floor) / span) : 0
}

function title(y: number, text: string): string {
  return `<text x="16" y="${y}" font-size="15" font-weight="600" fill="#111827">${escapeXml(text)}</text>`
}

function colour(server: ServerInfo): string {
  return COLOURS[server.kind]
}

/** A compared build (`--compare`) is drawn paler than the current one. */
function shade(server: ServerInfo): number {
  return server.build === undefined ? 1 : 0.45
}

function uniqueServers(servers: ServerInfo[]): ServerInfo[] {
  const seen = new Map<string, ServerInfo>()
  for (const server of servers) if (!seen.has(server.id)) seen.set(server.id, server)
  return [...seen.values()]
}
