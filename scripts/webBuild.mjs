// Is the built web app (dist/web) current? Compared by modification time with everything the
// build reads: web/, shared/ (the browser imports it) and the build's own configuration.
import path from 'node:path'
import { buildState } from './buildState.mjs'

const SOURCES = ['web', 'shared', 'vite.config.ts', 'package-lock.json']

/** 'missing' (never built), 'stale' (a source changed since) or 'current'. */
export function webBuildState (root, webDir = path.join(root, 'dist', 'web')) {
  return buildState(root, path.join(webDir, 'index.html'), SOURCES)
}
