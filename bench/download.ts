/**
 * Download benchmark: how fast does the web app download a shared file in Chromium (browser
 * WebTorrent: the server's HTTP web seed and its WebRTC peer at once), against a plain fetch()
 * of the same bytes (/api/media/:id) in the same page? And how long from opening a video's
 * share link to its first frame on screen?
 *
 *   npm run bench:download                       # builds the app, 500 MB file
 *   BENCH_SIZE_MB=100 npm run bench:download     # quicker
 *
 * Each of BENCH_ROUNDS (3) rounds opens the share link in a fresh context and times a fetch(), the
 * app's download and a fetch() again. Goal: the median download ≥ 0.5 × the median fetch() MB/s
 * (met/missed is printed; the exit code is 0 either way).
 *
 * Optional: CHROMIUM_PATH (default /usr/bin/chromium), BENCH_KEEP=1 keeps the temp dir, BENCH_SERVER_ARGS
 * (extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_CPU=1 prints
 * each round's CPU time by process and thread, BENCH_PROFILE=<file> writes the page's CPU profile
 * during the first download, BENCH_TRACE=<file> a Chromium trace of it (and how busy each thread was).
 * A failure to start, upload or download exits non-zero.
 */
import { chromium, type Browser, type Page } from '@playwright/test'
import { createHash, randomBytes } from 'node:crypto'
import { openAsBlob } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { cpuDelta, procStat, ROOT, runBench, startServerChild, statCpu, threadCpu, type ThreadCpu } from './serverProcess.ts'

const MB = 1e6
const RATIO_GOAL = 0.5
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 500)
if (!Number.isSafeInteger(sizeMb) || sizeMb < 1) throw new Error(`BENCH_SIZE_MB must be a whole number ≥ 1, got "${process.env.BENCH_SIZE_MB}"`)
const VIDEO = path.join(ROOT, 'test/fixtures/countdown.webm')
/** Rounds of fetch() – app – fetch(): one machine's runs vary by ±30 %, so medians are compared. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a whole number ≥ 1, got "${process.env.BENCH_ROUNDS}"`)
/** BENCH_CPU=1: each round's CPU seconds by process and thread (the server's and Chromium's). */
const CPU_DETAIL = process.env.BENCH_CPU === '1'

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

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** What a Chromium process is, from its command line: browser, renderer, network, gpu, … */
function chromiumRole (argv: string[]): string {
  const arg = (key: string): string | undefined => argv.find(a => a.startsWith(`--${key}=`))?.slice(key.length + 3)
  const type = arg('type')
  if (type === undefined) return 'browser'
  return type === 'utility' ? (arg('utility-sub-type')?.split('.').pop() ?? 'utility') : type
}

/** Processes started by this one, children and theirs (Linux /proc): the server and Chromium's processes. */
async function descendants (): Promise<number[]> {
  const parent = new Map<number, number>()
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const ppid = Number((await procStat(`/proc/${pid}/stat`))?.fields[1])
    if (ppid > 0) parent.set(Number(pid), ppid)
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined; p = parent.get(p)) if (p === process.pid) return true
    return false
  }
  return [...parent.keys()].filter(isOurs)
}

/**
 * CPU seconds so far of every thread of the server and of Chromium's processes, named
 * "<process>: <thread>": which process pays for a download (the trace shows only the renderer).
 */
async function machineCpu (serverPid: number): Promise<Map<string, ThreadCpu>> {
  const all = new Map<string, ThreadCpu>()
  for (const pid of await descendants()) {
    // Chromium's child processes rewrite their command line as one string (setproctitle).
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split(/[\0 ]/)
    const role = pid === serverPid ? 'server' : /chrom/.test(path.basename(argv[0] ?? '')) ? chromiumRole(argv) : path.basename(argv[0] ?? '?')
    const threads = await threadCpu(pid, comm => `${role}: ${comm}`)
    for (const [tid, t] of threads) all.set(tid, t)
    // The process's own total also counts threads that ended (a web seed worker stops when the torrent is done).
    const stat = await procStat(`/proc/${pid}/stat`)
    if (!stat) continue
    const total = statCpu(stat.fields)
    const live = [...threads.values()]
    all.set(`${pid}:ended`, {
      name: `${role}: threads that ended`,
      user: total.user - live.reduce((n, t) => n + t.user, 0),
      sys: total.sys - live.reduce((n, t) => n + t.sys, 0)
    })
  }
  return all
}

function printCpu (what: string, cpu: ReturnType<typeof cpuDelta>): void {
  console.log(`CPU during ${what}: ${(cpu.user + cpu.sys).toFixed(2)} s (${cpu.user.toFixed(2)} user + ${cpu.sys.toFixed(2)} sys); busiest threads:`)
  for (const [name, s] of cpu.byName.slice(0, 12)) console.log(`  ${s.toFixed(2).padStart(6)} s  ${name}`)
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

interface Round {
  /** MB/s: the app's download, and each plain fetch() in the same page (one before, one after). */
  app: number
  fetches: number[]
  fromServer: number
  fromPeers: number
  cpu: { fetch: ReturnType<typeof cpuDelta>, app: ReturnType<typeof cpuDelta> }
}

/**
 * One round in a fresh browser context: open the share link, fetch() the file, download it through
 * the app, fetch() again. The app is timed in the page, as fetch() is: from the click to the
 * moment "Save file" is in the page (a MutationObserver), so Playwright's own polling is not counted.
 */
async function downloadRound (browser: Browser, server: string, serverPid: number, mediaId: string, size: number, first: boolean): Promise<Round> {
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
    let cpu = await machineCpu(serverPid)
    const fetchBefore = await plainFetch()
    const fetchCpu = cpuDelta(cpu, cpu = await machineCpu(serverPid))
    const profiler = PROFILE && first ? await startProfile(page) : undefined
    if (TRACE && first) await browser.startTracing(page, { path: TRACE, categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-v8.cpu_profiler'] })
    // No named functions in here: tsx would wrap them in a helper the page does not have.
    await page.evaluate(() => {
      (window as unknown as { downloadMs: Promise<number> }).downloadMs = new Promise(resolve => {
        document.addEventListener('click', () => {
          const start = performance.now()
          const observer = new MutationObserver(() => {
            if (document.querySelector('[data-testid="download-done"]') === null) return
            observer.disconnect()
            resolve(performance.now() - start)
          })
          observer.observe(document.body, { subtree: true, childList: true, attributes: true })
        }, { capture: true, once: true })
      })
    })
    await page.getByTestId('download').click()
    const done = page.getByTestId('download-done')
    await done.waitFor({ timeout: 30 * 60_000 })
    const elapsed = await page.evaluate(() => (window as unknown as { downloadMs: Promise<number> }).downloadMs)
    const appCpu = cpuDelta(cpu, await machineCpu(serverPid))
    if (TRACE && first) {
      await browser.stopTracing()
      await printBusyThreads(TRACE, Math.round(elapsed))
    }
    if (profiler) await profiler()
    const fromServer = Number(await done.getAttribute('data-from-server'))
    const fromPeers = Number(await done.getAttribute('data-from-peers'))
    return { app: size / (elapsed / 1000), fetches: [fetchBefore, await plainFetch()], fromServer, fromPeers, cpu: { fetch: fetchCpu, app: appCpu } }
  } finally {
    await context.close()
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
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
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  try {
    const rounds: Round[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const r = await downloadRound(browser, server.base, server.pid, mediaId, size, i === 0)
      rounds.push(r)
      const cpuS = (c: ReturnType<typeof cpuDelta>): string => (c.user + c.sys).toFixed(1)
      console.log(`round ${i + 1}: app ${(r.app / MB).toFixed(1)} MB/s (${cpuS(r.cpu.app)} s CPU), fetch() ${r.fetches.map(f => (f / MB).toFixed(1)).join(' / ')} MB/s ` +
        `(${cpuS(r.cpu.fetch)} s CPU the first); ${(r.fromServer / MB).toFixed(0)} MB from the server's web seed and peer, ${(r.fromPeers / MB).toFixed(0)} MB from other browsers`)
      if (CPU_DETAIL) {
        printCpu('the first fetch()', r.cpu.fetch)
        printCpu('the app\'s download', r.cpu.app)
      }
    }
    const app = median(rounds.map(r => r.app))
    const reference = median(rounds.flatMap(r => r.fetches))
    const ratio = app / reference
    const firstFrame = await timeToFirstFrame(browser, server.base, videoId)
    console.log(`download through the app (share link → Save file ready), median of ${ROUNDS}: ${(app / MB).toFixed(1)} MB/s`)
    console.log(`plain fetch() of /api/media/:id in the same pages, median of ${2 * ROUNDS}: ${(reference / MB).toFixed(1)} MB/s`)
    console.log(`ratio: ${ratio.toFixed(2)} (goal ≥ ${RATIO_GOAL}): ${ratio >= RATIO_GOAL ? 'met' : 'missed'}`)
    console.log(`video share link opened → first frame: ${firstFrame} ms (${path.basename(VIDEO)}, fresh browser context, service worker installed on the way)`)
  } finally {
    await browser.close()
  }
})
