/**
 * Catalogue benchmark: does a server with a million stored files answer as one with none?
 *
 *   npm run bench:catalog                                   # 1,000,000 files, SQLite
 *   BENCH_FILES=10000 npm run bench:catalog                 # quicker
 *   BENCH_DATABASE_URL=postgres://user@host:5432/postgres npm run bench:catalog
 *
 * It fills a catalogue with BENCH_FILES stored public files (fillCatalog: the store's folders and
 * the rows uploads write), then starts the real server twice, each a fresh process: over an empty
 * catalogue (the reference) and over the full one. Each start is timed (/readyz, and a random
 * file's bytes), then the bench waits until that server is idle (its background work after a
 * start is done) and reads its RSS. Then both are timed together, one request at a time,
 * alternating between them so a busy machine slows both alike: small public uploads, /info of
 * random files, and listing pages after random cursors. With BENCH_DATABASE_URL (a PostgreSQL
 * server and a database there to connect to; the role needs CREATEDB) each run gets a new
 * database on that server, dropped at the end.
 *
 * Optional: BENCH_SAMPLES (timed requests of each kind, 200), BENCH_FILE_BYTES (size of the
 * filled files, 256), BENCH_UPLOAD_KB (size of the timed uploads, 4), BENCH_FILES_PER_KEY
 * (files each uploader key holds, 1000), BENCH_KEEP=1 keeps the temp dir and databases.
 *
 * Goals at N files: upload p50 ≤ 1.2 × the reference's; RSS when idle < 1 GB; ready < 3 s.
 * A missed goal is reported, not fatal; wrong answers exit non-zero.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { sql } from 'kysely'
import { encodeCursor } from '../server/catalog/listingCursor.ts'
import { openDatabase, type Database } from '../server/db/database.ts'
import { fillCatalog, type FilledFile } from './fillCatalog.ts'
import { envInt, fmt, MiB, now, procMem, procStat, runBench, statCpu, timedStart, verdict, type ServerChild } from './serverProcess.ts'

const UPLOAD_RATIO_GOAL = 1.2
const RSS_GOAL_MB = 1024
const READY_GOAL_MS = 3000

const FILES = envInt('BENCH_FILES', 1_000_000)
const SAMPLES = envInt('BENCH_SAMPLES', 200)
const FILE_BYTES = envInt('BENCH_FILE_BYTES', 256)
const UPLOAD_BYTES = envInt('BENCH_UPLOAD_KB', 4) * 1024
const FILES_PER_KEY = envInt('BENCH_FILES_PER_KEY', 1000)
const POSTGRES_URL = process.env.BENCH_DATABASE_URL || undefined
const PAGE = 50
/** Untimed uploads first: the first requests of a process load code and warm caches. */
const WARMUP = 10
/** Files filled before the disk a whole fill needs is estimated from them. */
const PROBE_FILES = 2000
/** Room kept beyond the estimate (index pages fill up unevenly as they grow). */
const DISK_MARGIN = 1.2
/** The server is idle when it used less than this share of a core for IDLE_SECONDS in a row. */
const IDLE_CPU = 0.05
const IDLE_SECONDS = 3

/**
 * The keys holding the filled files: a realistic catalogue of N files has N / QUOTA_FILES_PER_KEY
 * keys at least. The timed uploads are anonymous, so they are quota-checked as on an empty server.
 */
const benchKey = (i: number): string => '02' + createHash('sha256').update(`oip bench key ${Math.floor(i / FILES_PER_KEY)}`).digest('hex')

const median = (xs: number[], q = 0.5): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!
const GB = 1024 * MiB

/** One request, its body read: status, body text and ms from sending to the last byte. */
function request (url: string, opts: { method?: string, body?: Uint8Array, headers?: Record<string, string> } = {}): Promise<{ status: number, text: string, ms: number }> {
  return new Promise((resolve, reject) => {
    const start = now()
    const req = http.request(url, { method: opts.method ?? 'GET', headers: { ...opts.headers, ...(opts.body ? { 'content-length': String(opts.body.length) } : {}) } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ms: now() - start }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

const BOUNDARY = 'oip-bench-catalog'
/** A public upload of `bytes` as multipart/form-data, built before the clock starts. */
const uploadBody = (bytes: Uint8Array): Uint8Array => Buffer.concat([
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="access_level"\r\n\r\npublic\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
  bytes,
  Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
])

/** Bytes a folder tree takes on disk (allocated blocks). */
async function diskUse (dir: string): Promise<number> {
  let total = (await fs.lstat(dir)).blocks * 512
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    total += entry.isDirectory() ? await diskUse(p) : (await fs.lstat(p)).blocks * 512
  }
  return total
}

const freeBytes = async (dir: string): Promise<number> => { const { bavail, bsize } = await fs.statfs(dir); return bavail * bsize }

/** Bytes the database takes: SQLite's pages (WAL included), PostgreSQL's database size. */
async function databaseBytes (database: Database): Promise<number> {
  if (database.dialect === 'postgres') {
    const { rows } = await sql<{ n: string }>`SELECT pg_database_size(current_database()) AS n`.execute(database.db)
    return Number(rows[0]!.n)
  }
  const pages = (await sql<{ page_count: number }>`PRAGMA page_count`.execute(database.db)).rows[0]!.page_count
  const size = (await sql<{ page_size: number }>`PRAGMA page_size`.execute(database.db)).rows[0]!.page_size
  return pages * size
}

/** A catalogue for one run: its data dir, and its own database on the PostgreSQL server when there is one. */
interface Target { label: string, dataDir: string, databaseUrl?: string }

/** A new database on the benchmark's PostgreSQL server; its URL. */
async function createPostgresDatabase (name: string): Promise<string> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } catch (err) {
    throw new Error(`could not create database ${name} on BENCH_DATABASE_URL (the role needs CREATEDB): ${(err as Error).message}`)
  } finally {
    await client.end()
  }
  const url = new URL(POSTGRES_URL!)
  url.pathname = `/${name}`
  return url.toString()
}

async function dropPostgresDatabases (names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await client.end()
  }
}

const openTarget = async (target: Target): Promise<Database> =>
  await openDatabase({ ...(target.databaseUrl ? { url: target.databaseUrl } : {}), sqliteFile: path.join(target.dataDir, 'db.sqlite') })

/**
 * Fill `target` with FILES files. After the first PROBE_FILES it measures what a file takes
 * (folder and rows), prints the estimate for all, and refuses when the temp dir's disk lacks room.
 */
async function fill (target: Target, tmp: string): Promise<{ sample: FilledFile[] }> {
  const database = await openTarget(target)
  const mediaDir = path.join(target.dataDir, 'media')
  try {
    const emptyDatabase = await databaseBytes(database)
    const freeBefore = await freeBytes(tmp)
    const started = now()
    let lastReport = started
    let perFile = { media: 0, database: 0 }
    const sample = await fillCatalog({
      database,
      mediaDir,
      files: FILES,
      bytesOf: () => randomBytes(FILE_BYTES),
      ownerOf: benchKey,
      sample: SAMPLES,
      onProgress: async done => {
        if (perFile.media === 0 && (done >= PROBE_FILES || done === FILES)) {
          perFile = { media: await diskUse(mediaDir) / done, database: (await databaseBytes(database) - emptyDatabase) / done }
          const local = (perFile.media + (target.databaseUrl ? 0 : perFile.database)) * FILES * DISK_MARGIN
          const free = await freeBytes(tmp)
          console.log(`  disk: ${fmt(perFile.media, 0)} B per file in MEDIA_DIR, ${fmt(perFile.database, 0)} B in the database; ${FILES} files need ~${fmt(local / GB, 1)} GB in ${tmp} (${fmt(free / GB, 1)} GB free)` +
            (target.databaseUrl ? ` and ~${fmt(perFile.database * FILES * DISK_MARGIN / GB, 1)} GB on the PostgreSQL server` : ''))
          if (local > free) throw new Error(`not enough disk for ${FILES} files: ~${fmt(local / GB, 1)} GB needed in ${tmp}, ${fmt(free / GB, 1)} GB free. Set BENCH_FILES lower, or TMPDIR to a disk with room.`)
        }
        if (now() - lastReport >= 5000 || done === FILES) {
          lastReport = now()
          const rate = done / ((now() - started) / 1000)
          console.log(`  filled ${done} / ${FILES} (${fmt(rate, 0)} files/s, ${done === FILES ? 'done' : `ETA ${fmt((FILES - done) / rate, 0)} s`})`)
        }
      }
    })
    // Free space, not a walk of every folder: other processes on the disk blur it, but it costs nothing at any N.
    console.log(`  filled in ${fmt((now() - started) / 1000, 1)} s; the database is ${fmt((await databaseBytes(database)) / GB, 2)} GB; free space in ${tmp} fell by ${fmt((freeBefore - await freeBytes(tmp)) / GB, 2)} GB`)
    return { sample }
  } finally {
    await database.close()
  }
}

interface Latencies { p50: number, p90: number }
interface RunResult {
  ready: number
  /** A random stored file's bytes answered 200 (ms from spawn); undefined with no files. */
  served?: number
  /** From spawn until the server's background work after the start was done. */
  idleAt: number
  /** seeder.json, which every start writes again: when it was done (ms from spawn), and its size. */
  snapshot: { at: number, bytes: number }
  rss: number
  peakRss: number
  upload: Latencies
  info: Latencies
  listing: Latencies & { items: number }
  stopMs: number
}

const latencies = (ms: number[]): Latencies => ({ p50: median(ms), p90: median(ms, 0.9) })

/** Wait until the server uses under IDLE_CPU of a core for IDLE_SECONDS in a row; ms from `since`. */
async function idle (server: ServerChild, since: number): Promise<number> {
  const cpu = async (): Promise<number> => {
    const stat = await procStat(`/proc/${server.pid}/stat`)
    if (!stat) throw new Error(`the server exited:\n${server.output()}`)
    const { user, sys } = statCpu(stat.fields)
    return user + sys
  }
  let quiet = 0
  let last = await cpu()
  while (quiet < IDLE_SECONDS) {
    await new Promise(resolve => setTimeout(resolve, 1000))
    const used = await cpu()
    quiet = used - last < IDLE_CPU ? quiet + 1 : 0
    last = used
  }
  return now() - since - IDLE_SECONDS * 1000
}

type Answer = Awaited<ReturnType<typeof request>>

/**
 * `count` rounds of one request to each server (made by `make(server, round)`, one at a time, the
 * order alternating), so both see the same load on a shared machine. Each must answer `status`.
 */
async function rounds (count: number, status: number, make: (server: number, round: number) => Promise<Answer>): Promise<Array<{ ms: number[], texts: string[] }>> {
  const out = [0, 1].map(() => ({ ms: [] as number[], texts: [] as string[] }))
  for (let round = 0; round < count; round++) {
    for (const server of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const res = await make(server, round)
      if (res.status !== status) throw new Error(`request ${round} answered ${res.status}, expected ${status}: ${res.text.slice(0, 300)}`)
      out[server]!.ms.push(res.ms)
      out[server]!.texts.push(res.text)
    }
  }
  return out
}

/** Cursors of the listing's own positions, each followed by at least a page: walked one item at a time (a small listing). */
async function walkedCursors (base: string): Promise<string[]> {
  const cursors: string[] = []
  for (let cursor: string | null = null; ;) {
    const res = await request(`${base}/api/media?limit=1${cursor ? `&cursor=${cursor}` : ''}`)
    cursor = (JSON.parse(res.text) as { nextCursor: string | null }).nextCursor
    if (!cursor) break
    cursors.push(cursor)
  }
  return cursors.slice(0, Math.max(1, cursors.length - PAGE))
}

/** What a run's catalogue holds: its files (a sample of them). */
interface Run { target: Target, sample: FilledFile[] }
type Started = Pick<RunResult, 'ready' | 'served' | 'idleAt' | 'snapshot' | 'rss' | 'peakRss'> & { server: ServerChild }

/** A fresh server process over the run's catalogue: time its start (and a random file's bytes), wait until it is idle, read its RSS. */
async function start (servers: Set<ServerChild>, run: Run): Promise<Started> {
  const env: Record<string, string> = {
    LOG_LEVEL: 'info',
    ...(run.target.databaseUrl ? { DATABASE_URL: run.target.databaseUrl } : {}),
    // One client on loopback makes every request: the per-address limits are not what is measured.
    UPLOAD_STARTS_PER_MINUTE: '1000000',
    MAX_BYTE_RESPONSES_PER_ADDRESS: '1000000',
    SEED_ACTIVATIONS_PER_MINUTE: '1000000'
  }
  const file = run.sample[randomInt(Math.max(1, run.sample.length))]
  const spawned = now()
  const spawnedAt = Date.now()
  const { server, ready, served: [served] } = await timedStart(servers, run.target.dataDir, env, file ? [`/api/media/${file.mediaId}`] : [])
  await server.waitForOutput(/resumed seeding/, 600_000)
  const idleAt = await idle(server, spawned)
  const written = await fs.stat(path.join(run.target.dataDir, 'media', 'seeder.json'))
  const { rss, hwm } = await procMem(server.pid)
  return { server, ready, served, idleAt, snapshot: { at: written.mtimeMs - spawnedAt, bytes: written.size }, rss, peakRss: hwm }
}

/** Both runs' servers, started one after the other, then timed in rounds: uploads, /info, listing pages. */
async function measure (servers: Set<ServerChild>, runs: [Run, Run]): Promise<[RunResult, RunResult]> {
  const started: Started[] = []
  for (const run of runs) {
    console.log(`  starting a server over ${run.target.label === 'zero' ? 0 : FILES} files`)
    started.push(await start(servers, run))
  }
  const base = (s: number): string => started[s]!.server.base
  const bodies = started.map(() => Array.from({ length: WARMUP + SAMPLES }, () => randomBytes(UPLOAD_BYTES)))
  const post = async (s: number, i: number): Promise<Answer> =>
    await request(`${base(s)}/api/media/upload`, { method: 'POST', body: uploadBody(bodies[s]![i]!), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } })
  await rounds(WARMUP, 201, post)
  const uploads = await rounds(SAMPLES, 201, async (s, i) => await post(s, WARMUP + i))
  const uploaded = uploads.map((u, s) => u.texts.map((t, i) => {
    const { mediaId } = JSON.parse(t) as { mediaId: string }
    if (mediaId !== createHash('sha256').update(bodies[s]![WARMUP + i]!).digest('hex')) throw new Error(`upload ${i} answered mediaId ${mediaId}, not its SHA-256`)
    return mediaId
  }))

  // Stored files at random: the filled ones, or with none, the ones just uploaded.
  const ids = runs.map((run, s) => run.sample.length > 0 ? run.sample.map(f => f.mediaId) : uploaded[s]!)
  const info = await rounds(SAMPLES, 200, async s => await request(`${base(s)}/api/media/${ids[s]![randomInt(ids[s]!.length)]}/info`))
  const cursors = await Promise.all(runs.map(async (run, s) => run.sample.length > 0
    ? run.sample.map(f => encodeCursor({ at: String(f.listedAt), mediaId: f.mediaId }))
    : await walkedCursors(base(s))))
  const listing = await rounds(SAMPLES, 200, async s => await request(`${base(s)}/api/media?limit=${PAGE}&cursor=${cursors[s]![randomInt(cursors[s]!.length)]}`))

  const results: RunResult[] = []
  for (const [s, { server, ...times }] of started.entries()) {
    const stopping = now()
    await server.stop()
    const items = listing[s]!.texts.reduce((n, t) => n + (JSON.parse(t) as { items: unknown[] }).items.length, 0) / SAMPLES
    results.push({ ...times, upload: latencies(uploads[s]!.ms), info: latencies(info[s]!.ms), listing: { ...latencies(listing[s]!.ms), items }, stopMs: now() - stopping })
  }
  return results as [RunResult, RunResult]
}

const ms = (n: number | undefined): string => n === undefined ? '—' : `${fmt(n, n < 10 ? 2 : 0)} ms`
const ratio = (n: number | undefined, ref: number | undefined): string => n === undefined || !ref ? '' : `×${fmt(n / ref, 2)}`

function report (zero: RunResult, full: RunResult, kind: string): void {
  const row = (label: string, a: string, b: string, r: string, goal = ''): void => {
    console.log(`  ${label.padEnd(26)}${a.padEnd(22)}${b.padEnd(22)}${r.padEnd(9)}${goal}`)
  }
  const lat = (l: Latencies): string => `${ms(l.p50)} / ${ms(l.p90)}`
  const uploadRatio = full.upload.p50 / zero.upload.p50
  console.log('')
  console.log(`catalog benchmark, ${kind}: fresh server processes over 0 and ${FILES} files (${SAMPLES} requests of each kind to each, one at a time, alternating; p50 / p90)`)
  row('', 'at 0 files', `at ${FILES}`, `N / 0`)
  row(`upload ${UPLOAD_BYTES / 1024} KiB public`, lat(zero.upload), lat(full.upload), ratio(full.upload.p50, zero.upload.p50), `p50 goal ≤ ${UPLOAD_RATIO_GOAL}×  ${verdict(uploadRatio <= UPLOAD_RATIO_GOAL)}`)
  row('/info, random file', lat(zero.info), lat(full.info), ratio(full.info.p50, zero.info.p50))
  row(`listing page (${PAGE}), cursor`, lat(zero.listing), lat(full.listing), ratio(full.listing.p50, zero.listing.p50), `(${fmt(zero.listing.items, 0)} / ${fmt(full.listing.items, 0)} items a page)`)
  row('ready (/readyz 200)', ms(zero.ready), ms(full.ready), ratio(full.ready, zero.ready), `goal < ${READY_GOAL_MS} ms  ${verdict(full.ready < READY_GOAL_MS)}`)
  row('random file served', ms(zero.served), ms(full.served), '')
  row('idle after start', ms(zero.idleAt), ms(full.idleAt), ratio(full.idleAt, zero.idleAt), '(background work done: resume, reconcile, seeder.json)')
  const snapshot = (r: RunResult): string => `${ms(r.snapshot.at)}, ${fmt(r.snapshot.bytes / MiB)} MB`
  row('seeder.json written', snapshot(zero), snapshot(full), ratio(full.snapshot.at, zero.snapshot.at), '(ms from spawn of its last write: a fill leaves it stale, so the first start after one writes it whole)')
  row('RSS when idle', `${fmt(zero.rss / MiB)} MB`, `${fmt(full.rss / MiB)} MB`, ratio(full.rss, zero.rss), `goal < ${RSS_GOAL_MB} MB  ${verdict(full.rss / MiB < RSS_GOAL_MB)}`)
  row('peak RSS (VmHWM)', `${fmt(zero.peakRss / MiB)} MB`, `${fmt(full.peakRss / MiB)} MB`, ratio(full.peakRss, zero.peakRss))
  row('stop (SIGTERM to exit)', ms(zero.stopMs), ms(full.stopMs), ratio(full.stopMs, zero.stopMs))
  console.log(`  ${os.availableParallelism()} CPUs, load average ${os.loadavg().map(n => fmt(n, 2)).join(' ')}`)
}

runBench('catalog', async (tmp, servers) => {
  const kind = POSTGRES_URL ? 'PostgreSQL' : 'SQLite'
  console.log(`catalog bench: ${FILES} files of ${FILE_BYTES} B, ${kind}, in ${tmp}`)
  const names = POSTGRES_URL ? ['zero', 'full'].map(run => `oip_bench_${process.pid}_${run}`) : []
  const targets: Target[] = []
  try {
    for (const [i, label] of ['zero', 'full'].entries()) {
      targets.push({ label, dataDir: path.join(tmp, label), ...(POSTGRES_URL ? { databaseUrl: await createPostgresDatabase(names[i]!) } : {}) })
    }
    const [zeroTarget, fullTarget] = targets as [Target, Target]
    // The empty catalogue as a server's first start leaves it; then the full one.
    const empty = await openTarget(zeroTarget)
    try {
      await fillCatalog({ database: empty, mediaDir: path.join(zeroTarget.dataDir, 'media'), files: 0, bytesOf: () => new Uint8Array() })
    } finally {
      await empty.close()
    }
    const { sample } = await fill(fullTarget, tmp)

    const [zero, full] = await measure(servers, [{ target: zeroTarget, sample: [] }, { target: fullTarget, sample }])
    report(zero, full, kind)
  } finally {
    if (names.length > 0 && !process.env.BENCH_KEEP) await dropPostgresDatabases(names)
  }
})
