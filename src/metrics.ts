import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The Prometheus metrics of one app instance (its own registry, so several apps in one process,
 * as in tests, do not collide). Served at `GET /metrics`.
 */
export class Metrics {
  readonly registry = new Registry()

  readonly httpRequests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  readonly errors = new Counter({
    name: 'chat_errors_total',
    help: 'Errors answered, by code (HTTP statuses and socket error frames alike)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  })

  readonly messagesStored = new Counter({
    name: 'chat_messages_stored_total',
    help: 'Messages committed to the store',
    labelNames: ['via'] as const,
    registers: [this.registry],
  })

  readonly messageStoreSeconds = new Histogram({
    name: 'chat_message_store_seconds',
    help: 'Time from a send arriving to its commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })

  readonly framesDelivered = new Counter({
    name: 'chat_frames_delivered_total',
    help: 'Frames written to sockets, by message_type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  })

  readonly messagesOutOfOrder = new Counter({
    name: 'chat_messages_out_of_order_total',
    help: 'Messages that reached this node before an earlier one of their session, and waited for it',
    registers: [this.registry],
  })

  readonly gapReads = new Counter({
    name: 'chat_gap_reads_total',
    help: 'Reads from the store of messages the bus had not brought in time (gapWaitMs)',
    registers: [this.registry],
  })

  readonly gapMessages = new Counter({
    name: 'chat_gap_messages_total',
    help: 'Messages delivered by gap reads, with those that waited behind them',
    registers: [this.registry],
  })

  readonly connections = new Gauge({
    name: 'chat_socket_connections',
    help: 'Open sockets on this node',
    registers: [this.registry],
  })

  readonly closes = new Counter({
    name: 'chat_socket_closes_total',
    help: 'Sockets closed, by close code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }
}
