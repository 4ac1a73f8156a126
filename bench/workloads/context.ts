import type { NotRun } from '../results.js'
import type { Scale } from '../scales.js'

/** What every workload is given by the suite. */
export interface WorkloadContext {
  scale: Scale
  /** Progress for the person watching; one line each. */
  log(line: string): void
  /** Records a row that could not be measured, with the reason shown in the report. */
  skip(row: NotRun): void
}
