#!/usr/bin/env node
// First half of `npm start`: build the web app only when it is missing or older than its
// sources. A restart of an install whose build is current needs no build tools (vite is a dev
// dependency); a stale build with no build tools is used as it is, with a warning. With WEB_DIR
// set the operator serves a build of their own, and nothing is built here.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { webBuildState } from './webBuild.mjs'

const root = path.resolve(import.meta.dirname, '..')
const state = process.env.WEB_DIR ? 'current' : webBuildState(root)
if (state !== 'current') {
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js')
  if (existsSync(vite)) {
    console.log(state === 'missing' ? 'Building the web app (first start) ...' : 'The web app\'s sources changed since it was built: building it again ...')
    const built = spawnSync(process.execPath, [vite, 'build'], { cwd: root, stdio: 'inherit' })
    if (built.status !== 0) process.exit(built.status ?? 1)
  } else if (state === 'missing') {
    console.error('The web app is not built (dist/web) and the build tools are not installed: run `npm install` (with dev dependencies), then `npm start`.')
    process.exit(1)
  } else {
    console.warn('The web app\'s sources are newer than its build and the build tools are not installed: serving the existing build.')
  }
}
