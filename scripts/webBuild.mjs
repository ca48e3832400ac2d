// Is the built web app (dist/web) current? Compared by modification time with everything the
// build reads: web/, shared/ (the browser imports it) and the build's own configuration.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const SOURCES = ['web', 'shared', 'vite.config.ts', 'package-lock.json']

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

/** 'missing' (never built), 'stale' (a source changed since) or 'current'. */
export function webBuildState (root, webDir = path.join(root, 'dist', 'web')) {
  const index = path.join(webDir, 'index.html')
  if (!existsSync(index)) return 'missing'
  const built = statSync(index).mtimeMs
  const sources = SOURCES.map(s => path.join(root, s)).filter(existsSync)
  return sources.some(s => newestMtime(s) > built) ? 'stale' : 'current'
}
