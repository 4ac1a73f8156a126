import type { StepRecovery } from '../results.js'

/** Number formats shared by the report's tables, targets and chart. */

export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '–'
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–'
  return value < 10
    ? value.toFixed(2)
    : value < 100
      ? value.toFixed(1)
      : Math.round(value).toString()
}

/** `10000` → `10 s`, `500` → `0.5 s`. */
export function seconds(milliseconds: number): string {
  return Number.isFinite(milliseconds) ? `${Number((milliseconds / 1_000).toFixed(1))} s` : '–'
}

export function cores(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '–'
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–'
}

export function mebibytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : '–'
}

export function kibibytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '–'
}

/** `{1011: 3}` → `3 × 1011`; empty → `–`. */
export function tally(record: Record<string, number>): string {
  const entries = Object.entries(record)
  return entries.length === 0 ? '–' : entries.map(([key, value]) => `${value} × ${key}`).join(', ')
}

/** After a failed saturation step: `drained, next step after 3.2 s (…)`, or why waiting stopped. */
export function describeRecovery(recovery: StepRecovery): string {
  const late =
    recovery.lateDeliveries > 0
      ? ` (${recovery.lateDeliveries.toLocaleString('en')} late deliveries arrived)`
      : ''
  const waited = `${(recovery.waitedMs / 1_000).toFixed(1)} s`
  return recovery.drained
    ? `drained, next step after ${waited}${late}`
    : `cooldown ran out after ${waited}${late}: ` +
        `${recovery.stillOwed.toLocaleString('en')} deliveries still owed, server at ${recovery.serverCores.toFixed(2)} cores`
}

/** Text as SVG (XML) content: the report's chart and the flame graphs write it. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
