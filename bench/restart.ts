/**
 * Restart benchmark: how fast does a server with 10,000 stored files come back, and what does
 * each file cost at start compared with hashing it again?
 *
 *   npm run bench:restart                          # 10,000 files of 64 KiB
 *   BENCH_FILES=2000 BENCH_FILE_KB=16 npm run bench:restart
 *
 * Optional: BENCH_MAX_ACTIVE (SEED_MAX_ACTIVE for the server, default the server's default),
 * BENCH_KEEP=1 keeps the temp dir.
 *
 * Goals: /readyz ready and a random file served (bytes and .torrent) < 3 s after the process
 * starts; peak RSS < 300 MB; per-file start cost ≤ 1% of re-hashing that file (SHA-256 + SHA-1
 * pieces, measured in this run). A missed goal is reported, not fatal; wrong answers exit non-zero.
 */
import { randomBytes, randomInt } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { openDatabase } from '../server/db/database.ts'
import { fillCatalog, hashOnce } from './fillCatalog.ts'
import { envInt, fmt, get, MiB, now, procMem, runBench, timedStart, verdict, type ServerChild } from './serverProcess.ts'

const TIME_GOAL_MS = 3000
const RSS_GOAL_MB = 300
const RATIO_GOAL = 0.01
const REHASH_SAMPLE = 200
/** Restarts of each kind (BENCH_RUNS); medians are reported (single starts on a shared machine vary by ±30 %). */
const RUNS = envInt('BENCH_RUNS', 5)

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const FILES = envInt('BENCH_FILES', 10_000)
const FILE_SIZE = envInt('BENCH_FILE_KB', 64) * 1024
const maxActiveEnv: Record<string, string> = process.env.BENCH_MAX_ACTIVE ? { SEED_MAX_ACTIVE: String(envInt('BENCH_MAX_ACTIVE', 500)) } : {}
/**
 * The reference catalogue: as many files as the seeder brings up at a start (SEED_MAX_ACTIVE), so
 * it resumes the same torrents the full one does and the difference is what the other files cost.
 */
const BASE_FILES = Math.min(envInt('BENCH_MAX_ACTIVE', 500), FILES)

/** `files` public files of random bytes as uploads leave them (fillCatalog); a random sample of their ids. */
async function populate (dataDir: string, files: number): Promise<string[]> {
  const database = await openDatabase({ sqliteFile: path.join(dataDir, 'db.sqlite') })
  try {
    const sample = await fillCatalog({ database, mediaDir: path.join(dataDir, 'media'), files, bytesOf: () => randomBytes(FILE_SIZE), sample: REHASH_SAMPLE + RUNS })
    return sample.map(f => f.mediaId)
  } finally {
    await database.close()
  }
}

/** Mean ms to read one stored file and hash it again (the work a verifying start does per file). */
async function rehashMs (mediaDir: string, ids: string[]): Promise<number> {
  const sample = Array.from({ length: Math.min(REHASH_SAMPLE, ids.length) }, () => ids[randomInt(ids.length)]!)
  const pass = async (): Promise<number> => {
    const start = now()
    for (const id of sample) {
      const { mediaId } = hashOnce(await fs.readFile(path.join(mediaDir, id, 'original')))
      if (mediaId !== id) throw new Error(`re-hash of ${id} gave ${mediaId}`)
    }
    return (now() - start) / sample.length
  }
  await pass() // warms the page cache, as a restart right after the last run would find it
  return Math.min(await pass(), await pass())
}

interface StartTimes { ready: number, bytes: number, torrent: number }

/** Spawn the server over `dataDir` and time /readyz and, when given, one file's bytes and .torrent from spawn. */
async function timedRestart (servers: Set<ServerChild>, dataDir: string, id?: string): Promise<{ server: ServerChild, times: StartTimes }> {
  // info: the seeder logs when resuming is done.
  const paths = id === undefined ? [] : [`/api/media/${id}`, `/api/media/${id}/torrent`]
  const { server, ready, served: [bytes = 0, torrent = 0] } = await timedStart(servers, dataDir, { LOG_LEVEL: 'info', ...maxActiveEnv }, paths)
  return { server, times: { ready, bytes, torrent } }
}

/** When the server logged that resuming is done (ms from spawn), and how many torrents are active. */
async function allResumed (server: ServerChild): Promise<{ ms: number, active: number }> {
  const ms = await server.waitForOutput(/resumed seeding/)
  const { activeTorrents } = await (await fetch(`${server.base}/api/seeder/stats`)).json() as { activeTorrents: number }
  return { ms, active: activeTorrents }
}

runBench('restart', async (tmp, servers) => {
  console.log(`restart bench: ${FILES} files of ${FILE_SIZE / 1024} KiB in ${tmp}`)
  const dataDir = path.join(tmp, 'data')
  const t = now()
  const ids = await populate(dataDir, FILES)
  const baseIds = await populate(path.join(tmp, 'base'), BASE_FILES)
  console.log(`  stored in ${fmt((now() - t) / 1000, 1)} s by the fast fill (the store's folders, the rows uploads write)`)
  const rehash = await rehashMs(path.join(dataDir, 'media'), ids)

  // Starts alternate: an empty data dir (the fixed cost: node, modules, the WebTorrent client),
  // the reference catalogue of BASE_FILES, then the 10,000 files with a new random file each
  // time. Medians of RUNS.
  const emptyReady: number[] = []
  const baseReady: number[] = []
  const fullRuns: Array<StartTimes & { hwm: number, active: number, resumedAt: { ms: number, active: number } }> = []
  for (let run = 0; run < RUNS; run++) {
    const empty = await timedRestart(servers, path.join(tmp, 'empty'))
    emptyReady.push(empty.times.ready)
    await empty.server.stop()
    // Asked for a random file's bytes and .torrent during its start too, as the full one is:
    // those requests are work before ready that is not per stored file.
    const base = await timedRestart(servers, path.join(tmp, 'base'), baseIds[randomInt(baseIds.length)]!)
    baseReady.push(base.times.ready)
    await allResumed(base.server)
    await base.server.stop()

    const id = ids[randomInt(ids.length)]!
    const { server, times } = await timedRestart(servers, dataDir, id)
    const bytes = await get(`${server.base}/api/media/${id}`, 30_000)
    if (bytes.status !== 200 || bytes.bytes !== FILE_SIZE) throw new Error(`GET /api/media/${id} answered ${bytes.status} with ${bytes.bytes} bytes`)
    const stats = await (await fetch(`${server.base}/api/seeder/stats`)).json() as { seedingCount: number, activeTorrents: number }
    if (stats.seedingCount !== FILES) throw new Error(`the seeder lists ${stats.seedingCount} files, expected ${FILES}`)
    // The first SEED_MAX_ACTIVE torrents come up in the background once the server is ready.
    const resumedAt = await allResumed(server)
    const { hwm } = await procMem(server.pid)
    await server.stop()
    console.log(`  run ${run + 1}: empty ready ${fmt(empty.times.ready, 0)} ms; ${BASE_FILES} files ready ${fmt(base.times.ready, 0)} ms; ${FILES} files: ready ${fmt(times.ready, 0)} ms, bytes ${fmt(times.bytes, 0)} ms, .torrent ${fmt(times.torrent, 0)} ms, peak RSS ${fmt(hwm / MiB)} MB`)
    fullRuns.push({ ...times, hwm, active: stats.activeTorrents, resumedAt })
  }
  const full = { times: { ready: median(fullRuns.map(r => r.ready)), bytes: median(fullRuns.map(r => r.bytes)), torrent: median(fullRuns.map(r => r.torrent)) } }
  const empty = { times: { ready: median(emptyReady) } }
  const baseline = median(baseReady)
  const hwm = Math.max(...fullRuns.map(r => r.hwm))
  const stats = { activeTorrents: fullRuns[0]!.active }
  const resumedAt = { ms: median(fullRuns.map(r => r.resumedAt.ms)), active: fullRuns[0]!.resumedAt.active }

  // The start-up work each stored file costs: the difference of two ready times over the files
  // between them. Both catalogues resume the same SEED_MAX_ACTIVE torrents, so that constant
  // (it does not grow with the files) is not counted per file. Within the noise of two starts
  // (±200 ms on this machine): the server reads nothing per stored file before it is ready.
  // The median of each run's pair (started back to back), so a machine that slows down during
  // the bench does not show as a per-file cost.
  const perFileMs = Math.max(0, median(fullRuns.map((r, i) => r.ready - baseReady[i]!))) / Math.max(1, FILES - BASE_FILES)
  const ratio = perFileMs / rehash
  // Files that go active also load their .torrent and announce, in the background after ready.
  const perActiveMs = Math.max(0, resumedAt.ms - full.times.ready) / Math.max(1, resumedAt.active)
  const slowest = Math.max(full.times.ready, full.times.bytes, full.times.torrent)
  console.log('')
  console.log(`restart benchmark (times from process spawn, medians of ${RUNS} runs; peak RSS the highest)`)
  console.log(`  files                ${FILES} × ${FILE_SIZE / 1024} KiB; at ready ${stats.activeTorrents} torrents were active, all ${resumedAt.active} at ${fmt(resumedAt.ms, 0)} ms, the rest idle`)
  console.log(`  /readyz ready        ${fmt(full.times.ready, 0)} ms  (${BASE_FILES} files: ${fmt(baseline, 0)} ms; empty data dir: ${fmt(empty.times.ready, 0)} ms)`)
  console.log(`  random file served   bytes ${fmt(full.times.bytes, 0)} ms, .torrent ${fmt(full.times.torrent, 0)} ms  goal < ${TIME_GOAL_MS} ms  ${verdict(slowest < TIME_GOAL_MS)}`)
  console.log(`  peak RSS (VmHWM)     ${fmt(hwm / MiB)} MB  goal < ${RSS_GOAL_MB} MB  ${verdict(hwm / MiB < RSS_GOAL_MB)}`)
  console.log(`  per-file start       ${fmt(perFileMs * 1000, 2)} µs  (median over runs of (ready − ready with ${BASE_FILES}) / ${FILES - BASE_FILES} more files; pairs ${fullRuns.map((r, i) => fmt(r.ready - baseReady[i]!, 0)).join(', ')} ms)`)
  console.log(`  per active torrent   ${fmt(perActiveMs, 2)} ms  (in the background after ready: its torrent built from its row, no piece hashed, announced)`)
  console.log(`  re-hash one file     ${fmt(rehash * 1000, 1)} µs  (read + SHA-256 + SHA-1 pieces, cached, mean of ${Math.min(REHASH_SAMPLE, FILES)})`)
  console.log(`  ratio start/re-hash  ${fmt(ratio * 100, 2)} %  goal ≤ ${RATIO_GOAL * 100} %  ${verdict(ratio <= RATIO_GOAL)}`)
  console.log(`  ${os.availableParallelism()} CPUs, load average ${os.loadavg().map(n => fmt(n, 2)).join(' ')}`)
})
