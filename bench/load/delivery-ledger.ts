import { LatencyHistogram } from './histogram.js'

/** Clients per session the ledger can tell apart: one bit each in a 32-bit mask. */
export const MAX_CLIENTS_PER_SESSION = 32

/** What one measurement window saw, as counted by one worker. */
export interface WindowCounts {
  sent: number
  /** Sends the server refused as busy (`unavailable`): nothing is owed for them. */
  refused: number
  /**
   * Deliveries the server owed: every socket of the session, the sender's included, per message
   * it did not refuse.
   */
  expected: number
  delivered: number
  /** Owed deliveries that had not arrived when the window closed. */
  lost: number
  /** A socket got the same message twice. */
  duplicates: number
  /** Deliveries of messages from an earlier window, after that window had counted them lost. */
  late: number
  /** Frames naming a message this worker never sent. */
  unknown: number
  latency: LatencyHistogram
}

/**
 * Every message a worker sends, and which sockets of its session have received it. A message is
 * identified by its index here (sent as its `client_message_id`), so a delivery costs an array
 * lookup and a bit test, and losses and duplicates are exact rather than estimated.
 *
 * Windows are consecutive index ranges: `openWindow` starts one, `closeWindow` counts what its
 * messages still miss. A delivery of a message from an already closed window is `late`; what
 * closed windows still miss is `owedFromClosed` until it arrives (a server catching up on a
 * backlog) or the sockets close.
 */
export class DeliveryLedger {
  #sentAtMs = new Float64Array(1 << 16)
  #receivers = new Uint8Array(1 << 16)
  #receivedMask = new Uint32Array(1 << 16)
  #isRefused = new Uint8Array(1 << 16)
  #size = 0
  #windowStart = 0
  #outstanding = 0
  #owedFromClosed = 0
  #arrivedSinceClose = 0
  #counts = emptyCounts()

  /** Deliveries still owed for messages of the open window. */
  get outstanding(): number {
    return this.#outstanding
  }

  /** Deliveries the closed windows counted lost and that have not arrived since. */
  get owedFromClosed(): number {
    return this.#owedFromClosed
  }

  /** Deliveries of closed windows' messages since the last `closeWindow`. */
  get arrivedSinceClose(): number {
    return this.#arrivedSinceClose
  }

  /** The sockets closed: what they were owed can no longer arrive. */
  forgetOwed(): void {
    this.#owedFromClosed = 0
  }

  openWindow(): void {
    this.#windowStart = this.#size
    this.#outstanding = 0
    this.#counts = emptyCounts()
  }

  /** Records a send to a session of `receivers` sockets; returns the message's index. */
  recordSend(receivers: number, nowMs: number): number {
    if (receivers > MAX_CLIENTS_PER_SESSION) {
      throw new Error(`a session may have at most ${MAX_CLIENTS_PER_SESSION} clients`)
    }
    if (this.#size === this.#sentAtMs.length) this.#grow()
    const index = this.#size++
    this.#sentAtMs[index] = nowMs
    this.#receivers[index] = receivers
    this.#isRefused[index] = 0
    this.#counts.sent += 1
    this.#counts.expected += receivers
    this.#outstanding += receivers
    return index
  }

  /** Records that the socket in position `slot` of its session received message `index`. */
  recordDelivery(index: number, slot: number, nowMs: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) {
      this.#counts.unknown += 1
      return
    }
    const bit = 1 << slot
    const mask = this.#receivedMask[index]!
    if ((mask & bit) !== 0) {
      this.#counts.duplicates += 1
      return
    }
    this.#receivedMask[index] = mask | bit
    if (index < this.#windowStart) {
      this.#counts.late += 1
      this.#arrivedSinceClose += 1
      this.#owedFromClosed = Math.max(0, this.#owedFromClosed - 1)
      return
    }
    this.#counts.delivered += 1
    this.#outstanding -= 1
    this.#counts.latency.record(nowMs - this.#sentAtMs[index]!)
  }

  /**
   * The server refused message `index` (busy): nothing more is owed for it. False when `index`
   * names no message sent here, or one already refused; the caller counts that as an error.
   */
  recordRefusal(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) return false
    if (this.#isRefused[index] === 1) return false
    this.#isRefused[index] = 1
    const owed = this.#receivers[index]! - popCount(this.#receivedMask[index]!)
    if (index < this.#windowStart) {
      this.#owedFromClosed = Math.max(0, this.#owedFromClosed - owed)
      return true
    }
    this.#counts.refused += 1
    this.#counts.expected -= owed
    this.#outstanding -= owed
    return true
  }

  /** Ends the window: what its messages still miss is lost, unless the server refused them. */
  closeWindow(): WindowCounts {
    let lost = 0
    for (let index = this.#windowStart; index < this.#size; index += 1) {
      if (this.#isRefused[index] === 1) continue
      lost += this.#receivers[index]! - popCount(this.#receivedMask[index]!)
    }
    const counts = { ...this.#counts, lost }
    this.#windowStart = this.#size
    this.#outstanding = 0
    this.#owedFromClosed += lost
    this.#arrivedSinceClose = 0
    this.#counts = emptyCounts()
    return counts
  }

  #grow(): void {
    const length = this.#sentAtMs.length * 2
    this.#sentAtMs = copyInto(new Float64Array(length), this.#sentAtMs)
    this.#receivers = copyInto(new Uint8Array(length), this.#receivers)
    this.#receivedMask = copyInto(new Uint32Array(length), this.#receivedMask)
    this.#isRefused = copyInto(new Uint8Array(length), this.#isRefused)
  }
}

function emptyCounts(): WindowCounts {
  return {
    sent: 0,
    refused: 0,
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicates: 0,
    late: 0,
    unknown: 0,
    latency: new LatencyHistogram(),
  }
}

function copyInto<T extends Float64Array | Uint8Array | Uint32Array>(target: T, source: T): T {
  target.set(source)
  return target
}

function popCount(value: number): number {
  let bits = value - ((value >>> 1) & 0x55555555)
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333)
  return (((bits + (bits >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}
