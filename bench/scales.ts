import type { SessionShape } from './servers/server-driver.js'

/** Sizes and durations of every workload: the full run, and the seconds-long smoke run for CI. */

export interface SteadySpec {
  shape: SessionShape
  /** Messages per second each client sends. */
  ratePerClient: number
  warmupMs: number
  durationMs: number
  /** How long, after sending stops, deliveries still owed are waited for before they count as lost. */
  drainMs: number
}

/** Storing alone (`workloads/store-alone.ts`): the saturation and fan-out shapes' sessions. */
export interface StoreAloneSpec {
  sessions: number
  /** Messages per group commit, one measurement each. */
  batches: number[]
  messages: number
}

/** Commits alone (`workloads/commit-alone.ts`), run with the fan-out workload. */
export interface CommitAloneSpec {
  warmupCommits: number
  commits: number
}

export interface SaturationSpec {
  shape: SessionShape
  /** Messages per second offered in the first step. */
  startRate: number
  /** Each step offers this many times the last, until one fails. */
  growth: number
  /** Bisections between the last passing and the first failing rate. */
  refinements: number
  maxSteps: number
  warmupMs: number
  stepMs: number
  drainMs: number
  /**
   * After a failed step, how long at most to wait for the server to work off its backlog (every
   * delivery owed has arrived and its CPU has gone quiet) before the next step starts anyway.
   */
  cooldownMs: number
  /** Idle time after that wait, before the next step. */
  restMs: number
  /** A step fails when its p99 goes over this, when any delivery is lost or any send refused. */
  p99LimitMs: number
}

export interface IdleSpec {
  socketCounts: number[]
  clientsPerSession: number
  holdMs: number
  /** Sockets one source address may hold: a little under the ephemeral port range. */
  socketsPerSourceAddress: number
}

export interface HistorySpec {
  sessionSizes: number[]
  samples: number
  warmupSamples: number
}

/** One node against three behind nginx: the same steady window and the same search for both. */
export interface NginxSpec {
  fanOut: SteadySpec
  saturation: SaturationSpec
}

export interface Scale {
  /** Accounts created on our server; sockets share their tokens. */
  maxUsers: number
  /** Load-generator processes for the throughput workloads. */
  workers: number
  fanOut: SteadySpec
  group: SteadySpec
  saturation: SaturationSpec
  storeAlone: StoreAloneSpec
  /** Beside the fan-out rows: one message per commit, as a group mostly is at that rate. */
  storeAloneAtFanOut: StoreAloneSpec
  commitAlone: CommitAloneSpec
  scaleOut: SaturationSpec
  nginx: NginxSpec
  idle: IdleSpec
  history: HistorySpec
}

const FULL_SATURATION: SaturationSpec = {
  shape: { sessions: 500, clientsPerSession: 2 },
  startRate: 1_000,
  growth: 2,
  refinements: 3,
  maxSteps: 10,
  warmupMs: 2_000,
  stepMs: 5_000,
  drainMs: 2_000,
  cooldownMs: 20_000,
  restMs: 1_000,
  p99LimitMs: 100,
}

const FULL_FAN_OUT: SteadySpec = {
  shape: { sessions: 500, clientsPerSession: 2 },
  ratePerClient: 2,
  warmupMs: 3_000,
  durationMs: 15_000,
  // Long enough that a server seconds behind shows as latency, not as losses.
  drainMs: 10_000,
}

export const FULL_SCALE: Scale = {
  maxUsers: 100,
  workers: 1,
  fanOut: FULL_FAN_OUT,
  group: {
    shape: { sessions: 50, clientsPerSession: 20 },
    ratePerClient: 0.5,
    warmupMs: 3_000,
    durationMs: 15_000,
    drainMs: 10_000,
  },
  saturation: FULL_SATURATION,
  storeAlone: { sessions: 500, batches: [10, 100], messages: 40_000 },
  storeAloneAtFanOut: { sessions: 500, batches: [1], messages: 10_000 },
  commitAlone: { warmupCommits: 200, commits: 5_000 },
  scaleOut: FULL_SATURATION,
  nginx: { fanOut: FULL_FAN_OUT, saturation: FULL_SATURATION },
  idle: {
    socketCounts: [10_000, 50_000],
    clientsPerSession: 2,
    holdMs: 5_000,
    socketsPerSourceAddress: 10_000,
  },
  history: { sessionSizes: [1_000, 1_000_000], samples: 200, warmupSamples: 20 },
}

const SMOKE_SATURATION: SaturationSpec = {
  shape: { sessions: 4, clientsPerSession: 2 },
  startRate: 50,
  growth: 2,
  refinements: 0,
  maxSteps: 2,
  warmupMs: 200,
  stepMs: 500,
  // Waiting ends as soon as everything owed has arrived; the margin is for a busy CI machine.
  drainMs: 3_000,
  cooldownMs: 3_000,
  restMs: 200,
  p99LimitMs: 100,
}

const SMOKE_FAN_OUT: SteadySpec = {
  shape: { sessions: 4, clientsPerSession: 2 },
  ratePerClient: 2,
  warmupMs: 200,
  durationMs: 800,
  drainMs: 3_000,
}

export const SMOKE_SCALE: Scale = {
  maxUsers: 4,
  workers: 1,
  fanOut: SMOKE_FAN_OUT,
  group: {
    shape: { sessions: 2, clientsPerSession: 4 },
    ratePerClient: 2,
    warmupMs: 200,
    durationMs: 800,
    drainMs: 3_000,
  },
  saturation: SMOKE_SATURATION,
  storeAlone: { sessions: 4, batches: [10], messages: 200 },
  storeAloneAtFanOut: { sessions: 4, batches: [1], messages: 100 },
  commitAlone: { warmupCommits: 5, commits: 50 },
  scaleOut: SMOKE_SATURATION,
  nginx: { fanOut: SMOKE_FAN_OUT, saturation: SMOKE_SATURATION },
  idle: {
    socketCounts: [100],
    clientsPerSession: 2,
    holdMs: 300,
    socketsPerSourceAddress: 60,
  },
  history: { sessionSizes: [200, 2_000], samples: 10, warmupSamples: 2 },
}
