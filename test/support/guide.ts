import fs from 'node:fs'
import path from 'node:path'

const NAME = 'seed/000_b007816182164749.txt'

/**
 * The integration guide: beside the repository (`../shared`, as in a developer's checkout) or in
 * the workplace's shared folder (where a CI clone elsewhere finds it). Without it the pasted
 * snippets could not be checked, so its absence fails the test rather than skipping it.
 */
export function readGuide(): string {
  const candidates = [
    path.resolve(import.meta.dirname, '../../../shared', NAME),
    path.join('/work/shared', NAME),
  ]
  const found = candidates.find((file) => fs.existsSync(file))
  if (found === undefined) {
    throw new Error(`The integration guide is not at ${candidates.join(' or ')}.`)
  }
  return fs.readFileSync(found, 'utf8')
}

/** A fenced bash block of the guide, found by the heading above it. */
export function guideBlock(guide: string, heading: string): string {
  const start = guide.indexOf(heading)
  if (start === -1) throw new Error(`the guide has no heading "${heading}"`)
  const fence = guide.indexOf('```bash\n', start)
  return guide.slice(fence + '```bash\n'.length, guide.indexOf('\n```', fence))
}
