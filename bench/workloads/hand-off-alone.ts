import { Worker } from 'node:worker_threads'
import { textMessage } from '../message.js'
import type { HandOffAloneResult } from '../results.js'
import type { HandOffAloneSpec } from '../scales.js'
import { LatencyHistogram } from '../load/histogram.js'
import type { WorkloadContext } from './context.js'

/** A batch of one message, as the event loop posts it to the SQLite thread. */
const BATCH = [
  textMessage({
    id: '0190f3e4-7a1b-7c2d-8e3f-405162738495',
    chat_session_id: '0190f3e4-7a1b-7c2d-8e3f-405162738496',
    sender_id: '0190f3e4-7a1b-7c2d-8e3f-405162738497',
    client_message_id: 'c-1',
    created_at: 0,
  }),
]

/** Answers each request at once with a one-line outcome, as the SQLite thread does when stored. */
const ECHO = `const { parentPort } = require('node:worker_threads')
parentPort.on('message', ({ id, messages }) =>
  parentPort.postMessage({ id, result: messages.map((_, i) => ({ outcome: 'stored', seq: i })) }))`

/**
 * What handing work to a thread and back costs on this machine, with nothing else running: our
 * SQLite store makes one such round trip per group commit, and at the fan-out rate a group is
 * mostly one message. The thread does nothing but answer, so this is the hand-off alone: the
 * wake-ups of both threads and the copies of the message and its outcome.
 */
export async function runHandOffAlone(
  spec: HandOffAloneSpec,
  context: WorkloadContext,
): Promise<HandOffAloneResult> {
  const worker = new Worker(ECHO, { eval: true })
  try {
    const latency = new LatencyHistogram()
    let cpuMicros = 0
    for (let n = 0; n < spec.warmupRoundTrips + spec.roundTrips; n++) {
      const cpuBefore = process.cpuUsage()
      const startedAt = performance.now()
      await new Promise((resolve) => {
        worker.once('message', resolve)
        worker.postMessage({ id: n, op: 'append', messages: BATCH })
      })
      if (n >= spec.warmupRoundTrips) {
        latency.record(performance.now() - startedAt)
        const cpu = process.cpuUsage(cpuBefore)
        cpuMicros += cpu.user + cpu.system
      }
      // A turn of the event loop between round trips, as a server has: the thread falls asleep.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const result: HandOffAloneResult = {
      roundTrips: spec.roundTrips,
      p50Ms: latency.percentile(0.5),
      p99Ms: latency.percentile(0.99),
      maxMs: latency.maxMs,
      cpuMicrosPerRoundTrip: cpuMicros / spec.roundTrips,
    }
    context.log(
      `  a thread round trip alone: p50 ${result.p50Ms.toFixed(3)} ms, ` +
        `p99 ${result.p99Ms.toFixed(3)} ms, ${result.cpuMicrosPerRoundTrip.toFixed(0)} µs of CPU`,
    )
    return result
  } finally {
    await worker.terminate()
  }
}
