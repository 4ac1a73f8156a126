import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { summariseCpuProfile, type CpuProfile } from './cpu-profile.js'
import { flameGraphName, renderFlameGraph } from './flame-graph.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flame-graph-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const OURS = 'file:///srv/dist/src/realtime/hub.js'
const frame = (functionName: string, url = '', lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
})

/**
 * A profile starting at 1 s on the monotonic clock, one sample per millisecond: 2 ms idle, 3 ms in
 * our `deliver`, 2 ms in the `writev` it calls, 1 ms of garbage collection, then 2 ms in `deliver`
 * again. The figures are chosen so that cutting it to a window changes them.
 */
function writeProfile(name: string): string {
  const profile: CpuProfile = {
    startTime: 1_000_000,
    endTime: 1_011_000,
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('deliver', OURS, 40), children: [4] },
      { id: 4, callFrame: frame('writev') },
      { id: 5, callFrame: frame('(garbage collector)') },
    ],
    samples: [2, 2, 3, 3, 3, 4, 4, 5, 3, 3, 2],
    timeDeltas: Array.from({ length: 11 }, () => 1_000),
  }
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(profile))
  return file
}

/** Each bar's name and its figures, from the `<title>` that hovering shows. */
function bars(svg: string): Map<string, string> {
  return new Map(
    [...svg.matchAll(/<title>([^\n<]+)\n([^\n<]+)\n[^<]*<\/title>/g)].map(
      (match) => [match[1]!, match[2]!] as const,
    ),
  )
}

describe('flame graphs', () => {
  it('draws every busy function on its caller, as wide as its time and its callees’', () => {
    const svg = renderFlameGraph([writeProfile('whole.cpuprofile')], [], 'fan-out, ours')
    const drawn = bars(svg)
    // The samples: 5 in deliver itself, 2 in writev under it, 1 in GC; idle is not drawn.
    expect(drawn.get('all')).toBe('8.0 ms, 100.0% (self 0.0 ms)')
    expect(drawn.get('deliver src/realtime/hub.js:41')).toBe('7.0 ms, 87.5% (self 5.0 ms)')
    expect(drawn.get('writev (native)')).toBe('2.0 ms, 25.0% (self 2.0 ms)')
    expect(drawn.get('(garbage collector) (native)')).toBe('1.0 ms, 12.5% (self 1.0 ms)')
    expect([...drawn.keys()].some((name) => name.startsWith('(idle)'))).toBe(false)
    expect(svg).toContain('fan-out, ours')
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
  })

  it('colours a native function as its caller: writev under our code is our code', () => {
    const svg = renderFlameGraph([writeProfile('colours.cpuprofile')], [], 'colours')
    const titleOf = (name: string) => new RegExp(`<title>${name}[^<]*\\n([^\\n<]+)</title>`)
    expect(titleOf('writev').exec(svg)?.[1]).toBe('our code')
    expect(titleOf('\\(garbage collector\\)').exec(svg)?.[1]).toBe('garbage collection')
  })

  it('counts only the samples inside the measured windows, in the graph and in the summary', () => {
    const file = writeProfile('windowed.cpuprofile')
    // The samples taken from 1.006 s to 1.009 s: writev's two, the GC, then one in deliver.
    const windows = [{ fromUs: 1_006_000, toUs: 1_009_000 }]
    const drawn = bars(renderFlameGraph([file], windows, 'windowed'))
    expect(drawn.get('all')).toBe('4.0 ms, 100.0% (self 0.0 ms)')
    expect(drawn.get('deliver src/realtime/hub.js:41')).toBe('3.0 ms, 75.0% (self 1.0 ms)')

    const summary = summariseCpuProfile(file, 5, windows)
    expect(summary.durationMs).toBe(4)
    expect(summary.idleMs).toBe(0)
    expect(summary.buckets['our code']).toBe(3)
    expect(summary.buckets.GC).toBe(1)
    expect(summariseCpuProfile(file, 5).durationMs).toBe(10)
  })

  it('charges a socket write the PostgreSQL client makes to the client, not to socket writes', () => {
    const profile: CpuProfile = {
      startTime: 0,
      endTime: 4_000,
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 5] },
        {
          id: 2,
          callFrame: frame('query', 'file:///srv/node_modules/pg/lib/client.js'),
          children: [3],
        },
        { id: 3, callFrame: frame('Socket._writev', 'node:net'), children: [4] },
        { id: 4, callFrame: frame('writev') },
        {
          id: 5,
          callFrame: frame('send', 'file:///srv/node_modules/ws/lib/sender.js'),
          children: [6],
        },
        { id: 6, callFrame: frame('Socket._writev', 'node:net'), children: [7] },
        { id: 7, callFrame: frame('writev') },
      ],
      samples: [4, 4, 7, 7, 7],
      timeDeltas: [0, 1_000, 1_000, 1_000, 1_000],
    }
    const file = path.join(dir, 'pg-writes.cpuprofile')
    fs.writeFileSync(file, JSON.stringify(profile))
    const { buckets } = summariseCpuProfile(file)
    expect(buckets.pg).toBe(2)
    expect(buckets['socket writes']).toBe(2)
    const svg = renderFlameGraph([file], [], 'pg writes')
    const bucketsOf = (name: string) =>
      [
        ...svg.matchAll(new RegExp(`<title>${name} [^\\n<]*\\n[^\\n<]*\\n([^<]+)</title>`, 'g')),
      ].map((match) => match[1])
    expect(bucketsOf('Socket._writev').sort()).toEqual([
      'PostgreSQL client (pg)',
      'socket writes (ws, writev)',
    ])
  })

  it('merges the processes of a run into one graph', () => {
    const files = [writeProfile('node-1.cpuprofile'), writeProfile('node-2.cpuprofile')]
    expect(bars(renderFlameGraph(files, [], 'two nodes')).get('all')).toBe(
      '16.0 ms, 100.0% (self 0.0 ms)',
    )
  })

  it('names the file after the workload and the server', () => {
    const server = {
      id: 'ours-sqlite',
      label: 'swipesavvy-chat, SQLite',
      kind: 'ours' as const,
      nodes: 1,
      profiled: true,
    }
    expect(flameGraphName({ workload: 'idle 10000', server })).toBe('idle-10000-ours-sqlite.svg')
  })
})
