#!/usr/bin/env node
// Second step of `npm start`: bundle the server (a fraction of a second; see buildServer.mjs)
// when the bundle is missing or older than its sources. A restart over a current bundle needs
// neither esbuild nor a writable install; a stale bundle with no esbuild is used with a warning.
import path from 'node:path'
import { buildState } from './buildState.mjs'

const root = path.resolve(import.meta.dirname, '..')
const state = buildState(root, path.join(root, 'dist', 'server', 'main.mjs'), ['server', 'shared', 'scripts/buildServer.mjs', 'package-lock.json'])
if (state !== 'current') {
  const esbuild = await import('./buildServer.mjs').catch(err => err)
  if (esbuild instanceof Error) {
    if (state === 'missing') {
      console.error(`The server is not built (dist/server) and esbuild cannot load (${esbuild.message}): run \`npm install\`, then \`npm start\`.`)
      process.exit(1)
    }
    console.warn('The server\'s sources are newer than its bundle and esbuild cannot load: starting the existing bundle.')
  } else {
    await esbuild.buildServer(root)
  }
}
