// Is a build current? Compared by modification time with everything the build reads.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

function newestMtime (file) {
  const s = statSync(file)
  if (!s.isDirectory()) return s.mtimeMs
  let newest = s.mtimeMs
  for (const entry of readdirSync(file)) {
    if (entry === 'node_modules') continue
    newest = Math.max(newest, newestMtime(path.join(file, entry)))
  }
  return newest
}

/** 'missing' (`built` does not exist), 'stale' (one of `sources`, under `root`, changed since) or 'current'. */
export function buildState (root, built, sources) {
  if (!existsSync(built)) return 'missing'
  const at = statSync(built).mtimeMs
  return sources.map(s => path.join(root, s)).filter(existsSync).some(s => newestMtime(s) > at) ? 'stale' : 'current'
}
