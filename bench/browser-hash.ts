/**
 * Browser hashing benchmark: how close does `hashFile()` (SHA-256 + SHA-1 pieces in the hash
 * worker) come to bare hash-wasm SHA-256 over the same Blob in the same page, and does the page's
 * main thread stay responsive while it runs?
 *
 *   node --import tsx bench/browser-hash.ts                     # 1 GiB Blob
 *   BENCH_SIZE_MB=256 node --import tsx bench/browser-hash.ts   # quicker
 *
 * Optional: CHROMIUM_PATH (default /usr/bin/chromium), BENCH_RUNS (default 3: reference and
 * hashFile alternate, best of each counts), BENCH_SOURCE=memory|file (default: an in-memory Blob
 * up to 448 MiB, a File on disk above), BENCH_KEEP=1 keeps the temp dirs, BENCH_THUMBNAILS=1 makes
 * thumbnails of a 12-megapixel JPEG one after another while hashFile runs (web/lib/thumbnails.ts,
 * as when photos are added beside a large video): hashing must keep its goal meanwhile.
 *
 * The page is bundled by Vite from a tiny generated entry that imports web/lib/hashing.ts (so the
 * app's own build is not needed), served over loopback by node:http, and driven in Debian's
 * Chromium. Goals: ratio hashFile/reference ≥ 0.8, no main-thread task over 50 ms. Missing a goal
 * is reported, not fatal; a wrong mediaId or a failure to build, serve or launch exits non-zero.
 */
import { chromium } from '@playwright/test'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { PieceHasher, pieceLength } from '../shared/torrent.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MiB = 1024 * 1024
const RATIO_GOAL = 0.8
const LONG_TASK_GOAL_MS = 50

const positiveInt = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? fallback)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${process.env[name]}"`)
  return n
}
const sizeMb = positiveInt('BENCH_SIZE_MB', 1024)
const runs = positiveInt('BENCH_RUNS', 3)
const withThumbnails = process.env.BENCH_THUMBNAILS === '1'
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/**
 * Headless Chromium 156 here fails to read in-memory Blobs over ~480 MiB ("network error" /
 * NotReadableError), so bigger sizes hash a disk-backed File from an <input type=file>, which is
 * what the app gets from a file picker or a drop anyway.
 */
const MAX_MEMORY_BLOB_MB = 448
const source = process.env.BENCH_SOURCE ?? (sizeMb <= MAX_MEMORY_BLOB_MB ? 'memory' : 'file')
if (source !== 'memory' && source !== 'file') throw new Error(`BENCH_SOURCE must be memory or file, got "${source}"`)

/** The bench page, generated into a temp dir: plain JS so only Vite (not tsc) sees it. */
const PAGE_FILES = (hashingModule: string, thumbnailsModule: string): Record<string, string> => ({
  'index.html': '<!doctype html><meta charset="utf-8"><title>browser-hash bench</title><link rel="icon" href="data:,"><input type="file" id="file"><script type="module" src="./main.js"></script>',
  // The reference: bare hash-wasm SHA-256 in a worker, reading the Blob the fastest way measured
  // here (blob.stream(); 4 MiB slice().arrayBuffer() reads are ~10 % slower end to end).
  'ref.worker.js': `
import { createSHA256 } from 'hash-wasm'
self.onmessage = async ({ data: { blob } }) => {
  try {
    const sha = await createSHA256(); sha.init()
    const reader = blob.stream().getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) sha.update(r.value)
    self.postMessage({ mediaId: sha.digest('hex') })
  } catch (err) { self.postMessage({ error: String(err) }) }
}`,
  'main.js': `
import { hashFile } from ${JSON.stringify(hashingModule)}
import { makeThumbnail } from ${JSON.stringify(thumbnailsModule)}
const MiB = 1024 * 1024

/** A 4000 × 3000 JPEG with detail in it (noise over bands), for thumbnails made beside the hashing. */
async function photo () {
  const canvas = new OffscreenCanvas(4000, 3000)
  const ctx = canvas.getContext('2d')
  for (let i = 0; i < 30; i++) { ctx.fillStyle = 'hsl(' + i * 12 + ' 60% 50%)'; ctx.fillRect(0, i * 100, 4000, 100) }
  const noise = ctx.getImageData(0, 0, 4000, 300)
  for (let i = 0; i < noise.data.length; i += 4) noise.data[i] = (i * 2654435761) >>> 24
  for (let y = 0; y < 3000; y += 300) ctx.putImageData(noise, 0, y)
  return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 })
}

function makeBlob (size) {
  // One random 16 MiB block, each copy preceded by its index so no two are equal.
  const block = new Uint8Array(16 * MiB)
  for (let i = 0; i < block.length; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536))
  const parts = []
  for (let offset = 0, i = 0; offset < size; offset += block.length, i++) {
    const n = Math.min(block.length, size - offset)
    const stamp = new Uint8Array(new Uint32Array([i]).buffer).subarray(0, Math.min(4, n))
    parts.push(stamp, block.subarray(0, n - stamp.length))
  }
  return new Blob(parts)
}

/** The same bytes the bench process computes (see patterned() there): browser vs node:crypto. */
function patterned (size) {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = Math.imul(i, 2654435761) >>> 24
  return new Blob([bytes])
}
const hex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')

window.check = async (size, chunkSize) => {
  const blob = patterned(size)
  const out = []
  for (const parallel of [true, false]) {
    const h = await hashFile(blob, { parallel, chunkSize })
    out.push({ parallel, mediaId: h.mediaId, pieceLength: h.pieceLength, pieces: hex(h.pieces) })
  }
  // Cancel: aborting mid-file rejects with an AbortError (and terminates the workers).
  const ac = new AbortController()
  const err = await hashFile(blob, { chunkSize, onProgress: () => ac.abort(), signal: ac.signal }).then(() => null, e => e)
  if (err?.name !== 'AbortError') throw new Error('abort did not reject with an AbortError: ' + err)
  return out
}

async function reference (blob) {
  const worker = new Worker(new URL('./ref.worker.js', import.meta.url), { type: 'module' })
  const start = performance.now()
  const result = await new Promise((resolve, reject) => {
    worker.onmessage = e => e.data.error ? reject(new Error(e.data.error)) : resolve(e.data)
    worker.onerror = e => reject(new Error('reference worker: ' + e.message))
    worker.postMessage({ blob })
  })
  const ms = performance.now() - start
  worker.terminate()
  return { ms, mediaId: result.mediaId }
}

async function measured (blob, parallel, picture) {
  // Long tasks (> 50 ms) on this page's main thread while the worker hashes, plus the worst
  // lateness of a 10 ms timer (catches shorter stalls the long-task API does not report).
  const longTasks = []
  const observer = new PerformanceObserver(list => { for (const e of list.getEntries()) longTasks.push(e.duration) })
  observer.observe({ type: 'longtask' })
  let last = performance.now(); let maxLag = 0
  const timer = setInterval(() => { const t = performance.now(); maxLag = Math.max(maxLag, t - last - 10); last = t }, 10)
  let progress = 0
  let thumbnails = 0
  let hashing = true
  // Thumbnails one after another for as long as the hashing runs (the app makes one at a time).
  const making = (async () => {
    while (picture && hashing) {
      const made = await makeThumbnail(picture, 'image/jpeg')
      if (!made.blob) throw new Error('no thumbnail: ' + made.none)
      thumbnails++
    }
  })()
  const start = performance.now()
  try {
    const h = await hashFile(blob, { parallel, onProgress: () => { progress++ } })
    const ms = performance.now() - start
    hashing = false
    await making
    await new Promise(resolve => setTimeout(resolve, 50))
    for (const e of observer.takeRecords()) longTasks.push(e.duration)
    return { ms, mediaId: h.mediaId, pieceLength: h.pieceLength, piecesBytes: h.pieces.length, progress, longTasks, maxLag, thumbnails }
  } finally {
    observer.disconnect()
    clearInterval(timer)
  }
}

window.bench = async (size, runs, source, thumbnails) => {
  const picture = thumbnails ? await photo() : undefined
  const t = performance.now()
  const blob = source === 'file' ? document.getElementById('file').files[0] : makeBlob(size)
  if (blob.size !== size) throw new Error('blob is ' + blob.size + ' bytes, expected ' + size)
  const out = { blobMs: performance.now() - t, longTaskApi: PerformanceObserver.supportedEntryTypes.includes('longtask'), ref: [], worker: [], single: [] }
  // Alternate so both see the same warm-up and the same background noise.
  for (let i = 0; i < runs; i++) {
    out.ref.push(await reference(blob))
    out.worker.push(await measured(blob, undefined, picture))
  }
  // For comparison only: everything in one worker (what a one-core machine gets).
  out.single.push(await measured(blob, false, picture))
  return out
}
window.benchReady = true
`
})

interface RunResult { ms: number, mediaId: string }
interface WorkerRun extends RunResult { pieceLength: number, piecesBytes: number, progress: number, longTasks: number[], maxLag: number, thumbnails: number }
interface PageResult { blobMs: number, longTaskApi: boolean, ref: RunResult[], worker: WorkerRun[], single: WorkerRun[] }
interface CheckResult { parallel: boolean, mediaId: string, pieceLength: number, pieces: string }

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' }

/** A static file server for the built page, loopback only. */
async function serve (dir: string): Promise<{ url: string, close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html'
    const file = path.join(dir, rel)
    if (!file.startsWith(dir + path.sep)) { res.writeHead(403).end(); return }
    fs.readFile(file).then(body => {
      res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream' }).end(body)
    }, () => res.writeHead(404).end())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as import('node:net').AddressInfo
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise(resolve => server.close(() => resolve())) }
}

/** A random 16 MiB block, each copy stamped with its index (as bench/ingest.ts writes it). */
async function writeTestFile (file: string, size: number): Promise<void> {
  const block = randomBytes(16 * MiB)
  const handle = await fs.open(file, 'w')
  try {
    for (let offset = 0, i = 0; offset < size; offset += block.length, i++) {
      block.writeUInt32LE(i, 0)
      await handle.write(block, 0, Math.min(block.length, size - offset), offset)
    }
  } finally {
    await handle.close()
  }
}

/** The page's patterned() bytes. */
function patterned (size: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = Math.imul(i, 2654435761) >>> 24
  return bytes
}

/** node:crypto's answer for the same bytes: what the server computes at ingest. */
function serverHashes (bytes: Uint8Array): { mediaId: string, pieceLength: number, pieces: string } {
  const len = pieceLength(bytes.length)
  const pieces = new PieceHasher(len, () => {
    const h = createHash('sha1')
    return { update: d => { h.update(d) }, digest: () => h.digest() }
  })
  pieces.update(bytes)
  return { mediaId: createHash('sha256').update(bytes).digest('hex'), pieceLength: len, pieces: Buffer.from(pieces.digest()).toString('hex') }
}

const mbps = (bytes: number, ms: number): number => (bytes / MiB) / (ms / 1000)
const fmt = (n: number, digits = 1): string => n.toFixed(digits)
const best = <T extends { ms: number }>(xs: T[]): T => xs.reduce((a, b) => (b.ms < a.ms ? b : a))

async function main (): Promise<void> {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium, or set CHROMIUM_PATH`)
  const size = sizeMb * MiB
  const loadBefore = os.loadavg()[0]!
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-bench-browser-hash-'))
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined
  let server: Awaited<ReturnType<typeof serve>> | undefined
  let src: string | undefined
  await fs.mkdir(path.join(ROOT, 'node_modules', '.cache'), { recursive: true })
  try {
    // The page's sources sit inside the project so its imports (hash-wasm) resolve from node_modules.
    src = await fs.mkdtemp(path.join(ROOT, 'node_modules', '.cache', 'bench-browser-hash-'))
    const out = path.join(tmp, 'dist')
    for (const [name, text] of Object.entries(PAGE_FILES(path.join(ROOT, 'web/lib/hashing.ts'), path.join(ROOT, 'web/lib/thumbnails.ts')))) await fs.writeFile(path.join(src, name), text)
    // Its own tiny config (not vite.config.ts): the bench depends on web/lib/hashing.ts (and thumbnails.ts) only.
    await build({ configFile: false, root: src, logLevel: 'warn', build: { outDir: out, emptyOutDir: true } })
    server = await serve(out)

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
    })
    const page = await browser.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', err => pageErrors.push(err.message))
    page.on('console', msg => { if (msg.type() === 'error') pageErrors.push(msg.text()) })
    await page.goto(server.url)
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true, undefined, { timeout: 30_000 })
      .catch(() => { throw new Error(`the bench page did not load: ${pageErrors.join('; ') || 'no error reported'}`) })

    // Correctness first: both worker layouts give the server's SHA-256 and pieces for odd sizes and batches.
    const checkSize = 37 * MiB + 4321
    const expected = serverHashes(patterned(checkSize))
    const checks = await page.evaluate(([s, c]) => (window as unknown as { check: (s: number, c: number) => Promise<CheckResult[]> }).check(s, c), [checkSize, MiB + 7] as const)
    for (const c of checks) {
      if (c.mediaId !== expected.mediaId || c.pieceLength !== expected.pieceLength || c.pieces !== expected.pieces) {
        throw new Error(`hashFile (${c.parallel ? 'two workers' : 'one worker'}) differs from node:crypto over the same ${checkSize} bytes`)
      }
    }
    if (source === 'file') {
      const file = path.join(tmp, 'bench.bin')
      await writeTestFile(file, size)
      await page.setInputFiles('#file', file)
    }
    console.log(`browser hash bench: ${sizeMb} MiB ${source === 'file' ? 'File from disk' : 'in-memory Blob'} in Chromium ${await browser.version()}, ${runs} run(s) each`)
    console.log(`  check: one and two workers match node:crypto's SHA-256 and ${expected.pieces.length / 40} pieces over ${checkSize} bytes; abort rejects with AbortError`)
    const result = await page.evaluate(([s, r, src, t]) => (window as unknown as { bench: (s: number, r: number, src: string, t: boolean) => Promise<PageResult> }).bench(s, r, src, t), [size, runs, source, withThumbnails] as const)
    if (pageErrors.length > 0) throw new Error(`errors in the page: ${pageErrors.join('; ')}`)

    // Correctness before speed: every run must agree on the SHA-256, and the pieces must fit the size.
    const ids = new Set([...result.ref, ...result.worker].map(r => r.mediaId))
    if (ids.size !== 1) throw new Error(`runs disagree on the SHA-256: ${[...ids].join(', ')}`)
    const expectedPieces = Math.ceil(size / pieceLength(size)) * 20
    for (const w of result.worker) {
      if (w.pieceLength !== pieceLength(size) || w.piecesBytes !== expectedPieces) {
        throw new Error(`hashFile returned ${w.piecesBytes} piece bytes at piece length ${w.pieceLength}; expected ${expectedPieces} at ${pieceLength(size)}`)
      }
    }

    const ref = best(result.ref)
    const wrk = best(result.worker)
    const refMbps = mbps(size, ref.ms)
    const wrkMbps = mbps(size, wrk.ms)
    const ratio = wrkMbps / refMbps
    const allTasks = result.worker.flatMap(w => w.longTasks)
    const longest = allTasks.length > 0 ? Math.max(...allTasks) : 0
    const maxLag = Math.max(...result.worker.map(w => w.maxLag))
    const progressRate = Math.max(...result.worker.map(w => w.progress / (w.ms / 1000)))
    const pass = (ok: boolean): string => ok ? 'PASS' : 'MISS'

    console.log('')
    console.log('browser hash benchmark')
    console.log(`  size                 ${sizeMb} MiB (${size} bytes), ${source === 'file' ? 'a File on disk (page cache warm after the first run)' : `an in-memory Blob built in ${fmt(result.blobMs / 1000, 2)} s`}`)
    console.log(`  reference            ${fmt(refMbps)} MB/s  bare hash-wasm SHA-256 in a worker (${fmt(ref.ms / 1000, 2)} s; runs: ${result.ref.map(r => fmt(mbps(size, r.ms))).join(', ')})`)
    console.log(`  hashFile (worker)    ${fmt(wrkMbps)} MB/s  SHA-256 + SHA-1 pieces at ${pieceLength(size) / 1024} KiB (${fmt(wrk.ms / 1000, 2)} s; runs: ${result.worker.map(r => fmt(mbps(size, r.ms))).join(', ')})`)
    console.log(`  hashFile, one worker ${fmt(mbps(size, result.single[0]!.ms))} MB/s  for comparison (parallel: false, as on a one-core machine)`)
    console.log(`  ratio                ${fmt(ratio, 2)}  goal ≥ ${RATIO_GOAL}  ${pass(ratio >= RATIO_GOAL)}`)
    console.log(`  longest main task    ${result.longTaskApi ? (allTasks.length > 0 ? `${fmt(longest)} ms (${allTasks.length} over 50 ms)` : 'none over 50 ms') : 'longtask API unsupported'}` +
      `  goal: none over ${LONG_TASK_GOAL_MS} ms  ${pass(result.longTaskApi && longest <= LONG_TASK_GOAL_MS)}`)
    console.log(`  worst 10 ms timer lag ${fmt(maxLag)} ms; progress messages ${fmt(progressRate)}/s`)
    if (withThumbnails) console.log(`  thumbnails           ${result.worker.map(w => w.thumbnails).join(', ')} of a 12-megapixel JPEG made while hashFile ran (one at a time, in their own worker)`)
    console.log(`  mediaId              ${ref.mediaId} (all runs agree)`)
    console.log(`  machine              ${os.availableParallelism()} CPUs, 1-min load average ${fmt(loadBefore, 2)} before the bench (other work skews both rates and the ratio)`)
  } finally {
    await browser?.close()
    await server?.close()
    if (process.env.BENCH_KEEP) console.log(`kept ${tmp} and ${src}`)
    else await Promise.all([tmp, src].map(d => d && fs.rm(d, { recursive: true, force: true })))
  }
}

main().catch(err => {
  console.error(`browser hash bench failed: ${(err as Error).message}`)
  process.exitCode = 1
})
