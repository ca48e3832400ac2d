// The server as two bundled files, dist/server/main.mjs and its hashing worker: Node loads one
// file instead of resolving ~900 modules through the TypeScript loader, so a start takes about
// 0.5 s instead of 3 s (measured; see bench:restart). Packages with native code stay outside
// the bundle and load from node_modules, where their binaries are.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { build } from 'esbuild'

/**
 * Packages that load a compiled addon or find files next to themselves: never bundled. gun also
 * loads its parts with require() calls esbuild cannot follow (its own module system, optional ones).
 */
const NATIVE = ['better-sqlite3', '@roamhq/wrtc', 'pg-native', 'utp-native', 'fs-native-extensions', 'bufferutil', 'utf-8-validate', 'gun']

/** Builds into `root`/dist/server; each file is replaced whole, so builds running side by side are safe. */
export async function buildServer (root) {
  const outdir = path.join(root, 'dist', 'server')
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: 'server/main.ts', hashWorker: 'server/upload/hashWorker.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: NATIVE,
    // Bundled CommonJS packages call require() for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    sourcemap: 'linked',
    logLevel: 'warning',
    write: false
  })
  await fs.mkdir(outdir, { recursive: true })
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.${randomBytes(6).toString('hex')}.tmp`
    await fs.writeFile(tmp, file.contents)
    await fs.rename(tmp, file.path)
  }
  return path.join(outdir, 'main.mjs')
}

let built
/**
 * The node arguments that run the bundled server, building it once per process first (tests and
 * benches start the server as `npm start` does, from the bundle of the sources as they are now).
 */
export async function serverArgs (root) {
  built ??= buildServer(root)
  return ['--enable-source-maps', await built]
}
