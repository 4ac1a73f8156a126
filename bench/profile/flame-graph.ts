import { escapeXml } from '../report/format.js'
import type { ClockWindow, ProfileRun } from '../results.js'
import {
  bucketOfCall,
  BUCKET_LABELS,
  COST_BUCKETS,
  describeLocation,
  forEachSample,
  IDLE,
  indexCallTree,
  readCpuProfile,
  type CallFrame,
  type CostBucket,
} from './cpu-profile.js'

/** One function at one place in the call tree, merged over every process of a run. */
interface Frame {
  name: string
  location: string
  bucket: CostBucket
  /** Time on top of the stack here, in microseconds. */
  selfMicros: number
  /** Time here and in every callee, in microseconds (set once the profiles are merged). */
  totalMicros: number
  children: Map<string, Frame>
}

const WIDTH = 1200
const ROW = 17
const TOP = 48
const LEGEND = 28
/** Narrower frames are left out (their time stays in their parent's width): the file stays small. */
const MIN_WIDTH = 1
const CHAR_WIDTH = 6.6

/** The colour of each bucket, as the report's table names them; shades tell neighbours apart. */
const HUES: Record<CostBucket, number> = {
  SQLite: 38,
  pg: 215,
  'socket writes': 150,
  GC: 0,
  'our code': 355,
  other: 28,
}

/**
 * A flame graph of a server run's CPU profiles, as an SVG that any browser opens: one bar per
 * function on its callers, as wide as the time spent in it and below it, the whole run at the
 * bottom; hovering a bar names it with its time. Bars are coloured by the report's buckets (our
 * code, SQLite, the PostgreSQL client, socket writes, garbage collection, the rest), so the table
 * in "Where the time went" can be read off the picture. With `windows`, only the samples taken
 * inside them count, and idle time is never drawn: the width is the busy time.
 */
export function renderFlameGraph(
  files: readonly string[],
  windows: readonly ClockWindow[],
  title: string,
): string {
  const root = mergeProfiles(files, windows)
  const total = root.totalMicros
  const widthOf = (frame: Frame) => (total > 0 ? (frame.totalMicros / total) * WIDTH : 0)
  const visibleChildren = (frame: Frame) =>
    [...frame.children.values()]
      .filter((child) => widthOf(child) >= MIN_WIDTH)
      .sort((a, b) => a.name.localeCompare(b.name))
  const depthOf = (frame: Frame): number =>
    Math.max(0, ...visibleChildren(frame).map((child) => 1 + depthOf(child)))
  const depth = depthOf(root)
  const bars: string[] = []
  // Level 0, the whole run, at the bottom, as in a flame graph.
  const draw = (frame: Frame, x: number, level: number) => {
    bars.push(bar(frame, x, TOP + (depth - level) * ROW, widthOf(frame), total))
    let childX = x
    for (const child of visibleChildren(frame)) {
      draw(child, childX, level + 1)
      childX += widthOf(child)
    }
  }
  draw(root, 0, 0)
  const height = TOP + (depth + 1) * ROW + LEGEND
  let legendX = 10
  const legend = COST_BUCKETS.map((bucket) => {
    const label = BUCKET_LABELS[bucket]
    const svg =
      `<rect x="${legendX}" y="${height - 20}" width="12" height="12" fill="${colour(bucket, '')}"/>` +
      `<text x="${legendX + 16}" y="${height - 10}">${escapeXml(label)}</text>`
    legendX += 16 + label.length * CHAR_WIDTH + 24
    return svg
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fbfbf8"/>`,
    `<text x="10" y="20" font-size="14" font-family="system-ui, sans-serif">${escapeXml(title)}</text>`,
    `<text x="10" y="38" font-family="system-ui, sans-serif" fill="#555">${escapeXml(
      `${(total / 1_000_000).toFixed(2)} s busy${windows.length > 0 ? ' in the measured windows' : ''}; ` +
        'a bar is a function on its callers, as wide as its time and its callees’; hover for figures',
    )}</text>`,
    ...bars,
    ...legend,
    '</svg>',
    '',
  ].join('\n')
}

/** The file a run's flame graph is written to: `saturation-ours-sqlite.svg`. */
export function flameGraphName(run: Pick<ProfileRun, 'workload' | 'server'>): string {
  return `${run.workload}-${run.server.id}`.replace(/[^A-Za-z0-9._-]+/g, '-') + '.svg'
}

function mergeProfiles(files: readonly string[], windows: readonly ClockWindow[]): Frame {
  const root = newFrame('all', '', 'other')
  for (const file of files) {
    const profile = readCpuProfile(file)
    const { byId, parentOf } = indexCallTree(profile)
    const frameOf = new Map<number, Frame>()
    /** The merged frame of a profile node: its caller's, then a child of it named after it. */
    const resolve = (id: number): Frame => {
      const known = frameOf.get(id)
      if (known !== undefined) return known
      const node = byId.get(id)!
      const parentId = parentOf.get(id)
      // The profile's own root is the run's root: the processes of a run share it.
      if (parentId === undefined) {
        frameOf.set(id, root)
        return root
      }
      const parent = resolve(parentId)
      const frame = childOf(parent, node.callFrame)
      frameOf.set(id, frame)
      return frame
    }
    forEachSample(profile, windows, (id, micros) => {
      if (byId.get(id)?.callFrame.functionName === IDLE) return
      resolve(id).selfMicros += micros
    })
  }
  addUpTotals(root)
  return root
}

function addUpTotals(frame: Frame): number {
  frame.totalMicros = frame.selfMicros
  for (const child of frame.children.values()) frame.totalMicros += addUpTotals(child)
  return frame.totalMicros
}

function childOf(parent: Frame, callFrame: CallFrame): Frame {
  const name = callFrame.functionName || '(anonymous)'
  const location = describeLocation(callFrame.url, callFrame.lineNumber)
  const key = `${name} ${location}`
  let child = parent.children.get(key)
  if (child === undefined) {
    child = newFrame(name, location, bucketOfCall(callFrame, parent.bucket))
    parent.children.set(key, child)
  }
  return child
}

function newFrame(name: string, location: string, bucket: CostBucket): Frame {
  return { name, location, bucket, selfMicros: 0, totalMicros: 0, children: new Map() }
}

function bar(frame: Frame, x: number, y: number, width: number, total: number): string {
  const micros = frame.totalMicros
  const label = frame.location === '' ? frame.name : `${frame.name} ${frame.location}`
  const figures =
    `${(micros / 1_000).toFixed(1)} ms, ${((micros / total) * 100).toFixed(1)}% ` +
    `(self ${(frame.selfMicros / 1_000).toFixed(1)} ms)`
  const fits = Math.floor((width - 6) / CHAR_WIDTH)
  const text =
    fits >= 3
      ? `<text x="3" y="12">${escapeXml(frame.name.length > fits ? `${frame.name.slice(0, fits - 1)}…` : frame.name)}</text>`
      : ''
  return (
    `<g transform="translate(0 ${y})"><title>${escapeXml(`${label}\n${figures}\n${BUCKET_LABELS[frame.bucket]}`)}</title>` +
    `<svg x="${x.toFixed(1)}" width="${width.toFixed(1)}" height="${ROW - 1}">` +
    `<rect width="100%" height="100%" rx="2" fill="${colour(frame.bucket, frame.name)}"/>${text}</svg></g>`
  )
}

/** The bucket's hue, a little lighter or darker by name, so neighbouring bars stay apart. */
function colour(bucket: CostBucket, name: string): string {
  let hash = 0
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0
  const lightness = 62 + (Math.abs(hash) % 16)
  const saturation = bucket === 'GC' ? 0 : bucket === 'other' ? 25 : 70
  return `hsl(${HUES[bucket]} ${saturation}% ${lightness}%)`
}
