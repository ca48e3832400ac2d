/**
 * Download benchmark: how fast does the web app download a shared file in Chromium (browser
 * WebTorrent: the server's HTTP web seed and its WebRTC peer at once), against a plain fetch()
 * of the same bytes (/api/media/:id) in the same page? And how long from opening a video's
 * share link to its first frame on screen?
 *
 *   npm run bench:download                       # builds the app, 500 MB file
 *   BENCH_SIZE_MB=100 npm run bench:download     # quicker
 *
 * Optional: CHROMIUM_PATH (default /usr/bin/chromium), BENCH_KEEP=1 keeps the temp dir,
 * BENCH_PROFILE=<file> writes the page's CPU profile during the download, BENCH_TRACE=<file> a
 * Chromium trace (and prints how busy each thread was).
 * Goal: download ≥ 0.5 × fetch MB/s (met/missed is printed; the exit code is 0 either way).
 * A failure to start, upload or download exits non-zero.
 */
import { chromium, type Browser, type Page } from '@playwright/test'
import { createHash, randomBytes } from 'node:crypto'
import { openAsBlob } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ROOT, runBench, startServerChild } from './serverProcess.ts'

const MB = 1e6
const RATIO_GOAL = 0.5
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 500)
if (!Number.isSafeInteger(sizeMb) || sizeMb < 1) throw new Error(`BENCH_SIZE_MB must be a whole number ≥ 1, got "${process.env.BENCH_SIZE_MB}"`)
const VIDEO = path.join(ROOT, 'test/fixtures/countdown.webm')

/** A file of pseudo-random bytes: one random 16 MiB block, each copy stamped with its index. */
async function writeTestFile (file: string, size: number): Promise<string> {
  const block = randomBytes(16 * 1024 * 1024)
  const hash = createHash('sha256')
  const handle = await fs.open(file, 'w')
  for (let offset = 0, i = 0; offset < size; offset += block.length, i++) {
    block.writeUInt32LE(i, 0)
    const part = block.subarray(0, Math.min(block.length, size - offset))
    hash.update(part)
    await handle.write(part)
  }
  await handle.close()
  return hash.digest('hex')
}

/** Upload from disk (openAsBlob streams it; the server allows anonymous public uploads here). */
async function upload (server: string, file: string, type: string): Promise<string> {
  const form = new FormData()
  form.append('access_level', 'public')
  form.append('file', await openAsBlob(file, { type }), path.basename(file))
  const res = await fetch(`${server}/api/media/upload`, { method: 'POST', body: form })
  if (res.status !== 201) throw new Error(`upload of ${file} answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { mediaId: string }).mediaId
}

/**
 * BENCH_PROFILE=<file>: the page's CPU profile during the download (open it in Chromium's
 * DevTools), and the functions with the most self time printed here.
 */
const PROFILE = process.env.BENCH_PROFILE

/**
 * BENCH_TRACE=<file>: a Chromium trace of the download (open it in chrome://tracing or Perfetto),
 * and how busy each browser thread was: which one limits the download.
 */
const TRACE = process.env.BENCH_TRACE

interface TraceEvent { name: string, ph: string, pid: number, tid: number, ts: number, dur?: number, args?: { name?: string } }

async function printBusyThreads (file: string, ms: number): Promise<void> {
  const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[]
  const events = Array.isArray(parsed) ? parsed : parsed.traceEvents
  const names = new Map(events.filter(e => e.name === 'thread_name').map(e => [`${e.pid}:${e.tid}`, e.args?.name ?? '?']))
  // Tasks nest (a task's parts are tasks too): the union of their intervals is the busy time.
  const tasks = new Map<string, Array<[number, number]>>()
  for (const e of events) {
    if (e.ph !== 'X' || e.dur === undefined || !/RunTask$/.test(e.name)) continue
    const key = `${e.pid}:${e.tid}`
    tasks.set(key, [...tasks.get(key) ?? [], [e.ts, e.ts + e.dur]])
  }
  const busy = [...tasks].map(([key, spans]) => {
    let total = 0
    let end = -Infinity
    for (const [from, to] of spans.sort((a, b) => a[0] - b[0])) {
      if (to > end) total += to - Math.max(from, end)
      end = Math.max(end, to)
    }
    return { thread: `${names.get(key) ?? key} (pid ${key.split(':')[0]})`, ms: total / 1000 }
  }).sort((a, b) => b.ms - a.ms)
  console.log(`trace written to ${file}; the busiest threads during the ${ms} ms download:`)
  for (const { thread, ms: busyMs } of busy.slice(0, 8)) console.log(`  ${(100 * busyMs / ms).toFixed(0).padStart(4)} %  ${thread}`)
}

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }

async function startProfile (page: Page): Promise<() => Promise<void>> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 })
  await cdp.send('Profiler.start')
  return async () => {
    const { profile } = await cdp.send('Profiler.stop')
    await fs.writeFile(PROFILE!, JSON.stringify(profile))
    const self = new Map<string, number>()
    let total = 0
    for (const node of profile.nodes as ProfileNode[]) {
      const { functionName, url, lineNumber } = node.callFrame
      const key = `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber}`
      self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0))
      total += node.hitCount ?? 0
    }
    console.log(`page CPU profile written to ${PROFILE}; most self time:`)
    for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(100 * hits / total).toFixed(1).padStart(5)} %  ${key}`)
  }
}

/** Open the share link in a fresh browser context, download through the app; MB/s, and fetch()'s MB/s in the same page. */
async function measureDownload (browser: Browser, server: string, mediaId: string, size: number): Promise<{ app: number, fetchBefore: number, fetchAfter: number, fromServer: number, fromPeers: number }> {
  const context = await browser.newContext({ baseURL: server })
  try {
    const page = await context.newPage()
    await page.goto(`/#/m/${mediaId}`)
    await page.getByTestId('download').waitFor()
    const plainFetch = async (): Promise<number> => await page.evaluate(async id => {
      const start = performance.now()
      const reader = (await fetch(`/api/media/${id}`, { cache: 'no-store' })).body!.getReader()
      let n = 0
      for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.length
      return n / ((performance.now() - start) / 1000)
    }, mediaId)
    const fetchBefore = await plainFetch()
    const profiler = PROFILE ? await startProfile(page) : undefined
    if (TRACE) await browser.startTracing(page, { path: TRACE, categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-v8.cpu_profiler'] })
    const start = Date.now()
    await page.getByTestId('download').click()
    const done = page.getByTestId('download-done')
    await done.waitFor({ timeout: 30 * 60_000 })
    const elapsed = Date.now() - start
    const app = size / (elapsed / 1000)
    if (TRACE) {
      await browser.stopTracing()
      await printBusyThreads(TRACE, elapsed)
    }
    if (profiler) await profiler()
    const fromServer = Number(await done.getAttribute('data-from-server'))
    const fromPeers = Number(await done.getAttribute('data-from-peers'))
    return { app, fetchBefore, fetchAfter: await plainFetch(), fromServer, fromPeers }
  } finally {
    await context.close()
  }
}

/** Open a video's share link in a fresh context, press "Download and play": ms to the first frame painted. */
async function timeToFirstFrame (browser: Browser, server: string, mediaId: string): Promise<number> {
  const context = await browser.newContext({ baseURL: server })
  try {
    const page = await context.newPage()
    const start = Date.now()
    await page.goto(`/#/m/${mediaId}`)
    await page.getByTestId('download').click()
    await page.waitForFunction(() => new Promise<boolean>(resolve => {
      const video = document.querySelector('video')
      if (!video) return resolve(false)
      video.requestVideoFrameCallback(() => resolve(true))
    }), undefined, { timeout: 120_000, polling: 100 })
    return Date.now() - start
  } finally {
    await context.close()
  }
}

runBench('download', async (tmp, servers) => {
  const size = sizeMb * MB
  const file = path.join(tmp, 'big.bin')
  console.log(`writing a ${sizeMb} MB test file …`)
  await writeTestFile(file, size)
  const server = await startServerChild(path.join(tmp, 'server'), { WEB_DIR: path.join(ROOT, 'dist/web') })
  servers.add(server)
  await server.waitFor('/readyz')
  const mediaId = await upload(server.base, file, 'application/octet-stream')
  const videoId = await upload(server.base, VIDEO, 'video/webm')
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  try {
    const r = await measureDownload(browser, server.base, mediaId, size)
    const reference = Math.max(r.fetchBefore, r.fetchAfter)
    const ratio = r.app / reference
    const firstFrame = await timeToFirstFrame(browser, server.base, videoId)
    console.log(`download through the app (share link → Save file ready): ${(r.app / MB).toFixed(1)} MB/s ` +
      `(${(r.fromServer / MB).toFixed(0)} MB from the server's web seed and peer, ${(r.fromPeers / MB).toFixed(0)} MB from other browsers)`)
    console.log(`plain fetch() of /api/media/:id in the same page: ${(r.fetchBefore / MB).toFixed(1)} MB/s before, ${(r.fetchAfter / MB).toFixed(1)} MB/s after`)
    console.log(`ratio: ${ratio.toFixed(2)} (goal ≥ ${RATIO_GOAL}): ${ratio >= RATIO_GOAL ? 'met' : 'missed'}`)
    console.log(`video share link opened → first frame: ${firstFrame} ms (${path.basename(VIDEO)}, fresh browser context, service worker installed on the way)`)
  } finally {
    await browser.close()
  }
})
