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
import type { MediaManifest } from '../shared/media.ts'
import { buildTorrent, magnetURI, pieceLength } from '../shared/torrent.ts'
import { openDatabase } from '../server/db/database.ts'
import { DatabaseRecordRepository } from '../server/records/databaseRecordRepository.ts'
import { FsBlobStore, replaceFile } from '../server/storage/fsBlobStore.ts'
import { ContentHasher } from '../server/upload/contentHasher.ts'
import { sha1 } from '../server/upload/nodeHashers.ts'
import { envInt, fmt, get, MiB, now, procMem, runBench, startServerChild, verdict, type ServerChild } from './serverProcess.ts'

const TIME_GOAL_MS = 3000
const RSS_GOAL_MB = 300
const RATIO_GOAL = 0.01
/** Files written at once while setting up (each publish fsyncs twice). */
const SETUP_CONCURRENCY = 16
const REHASH_SAMPLE = 200
/** Restarts of each kind; medians are reported (single starts on a shared machine vary by ±30 %). */
const RUNS = 3

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const FILES = envInt('BENCH_FILES', 10_000)
const FILE_SIZE = envInt('BENCH_FILE_KB', 64) * 1024
const maxActiveEnv: Record<string, string> = process.env.BENCH_MAX_ACTIVE ? { SEED_MAX_ACTIVE: String(envInt('BENCH_MAX_ACTIVE', 500)) } : {}

/** Hash bytes as ingest does: SHA-256 (the mediaId) and the torrent's SHA-1 pieces, one pass. */
function hashOnce (bytes: Uint8Array): { mediaId: string, pieces: { pieceLength: number, pieces: Uint8Array } } {
  const hasher = new ContentHasher([pieceLength(bytes.length)])
  hasher.update(bytes)
  const { mediaId, pieces } = hasher.finish()
  if (!pieces) throw new Error('piece hashes missing')
  return { mediaId, pieces }
}

/**
 * Publish `FILES` public files through the real blob store (staged, fsynced, renamed) with
 * manifest, .torrent, a record and the seeding state, exactly as uploads leave them.
 */
async function populate (dataDir: string): Promise<string[]> {
  const store = new FsBlobStore(path.join(dataDir, 'media'))
  await store.init()
  const database = await openDatabase({ sqliteFile: path.join(dataDir, 'db.sqlite') })
  const records = new DatabaseRecordRepository(database.db, database.dialect)
  // seeder.json as the server writes it (version 2: the magnet and path follow from these).
  const seeding: Array<{ mediaId: string, infoHash: string, name: string, fileSize: number, createdAt: number }> = []
  const transport = { announce: [], urlList: [] }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < FILES) {
      const i = next++
      const bytes = randomBytes(FILE_SIZE)
      const { mediaId, pieces } = hashOnce(bytes)
      const name = `file-${i}.bin`
      const createdAt = new Date(Date.now() - (FILES - i) * 1000)
      const { infoHash, torrentFile } = buildTorrent({ name, length: FILE_SIZE, ...pieces }, transport, sha1, createdAt)
      const manifest: MediaManifest = {
        mediaId,
        originalName: name,
        mimeType: 'application/octet-stream',
        fileSize: FILE_SIZE,
        infoHash,
        magnetURI: magnetURI(infoHash, name, transport),
        pieceLength: pieces.pieceLength,
        createdAt: createdAt.toISOString()
      }
      const pending = await store.begin()
      await pending.file.write(bytes, 0, false)
      await pending.commit(manifest, torrentFile)
      await records.ensure({ mediaId, owner: '', accessLevel: 'public', name: null, description: null, originalName: name, mimeType: manifest.mimeType, torrentSalt: null, privateInfoHash: null })
      await records.setPublicTorrent(mediaId, infoHash)
      seeding.push({ mediaId, infoHash, name, fileSize: FILE_SIZE, createdAt: createdAt.getTime() })
    }
  }
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, worker))
  await replaceFile(path.join(dataDir, 'media', 'seeder.json'), JSON.stringify({ version: 2, seeding }))
  await database.close()
  return seeding.map(s => s.mediaId)
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

/** Spawn the server over `dataDir` and time /readyz and one file's bytes and .torrent from spawn. */
async function timedStart (dataDir: string, id?: string): Promise<{ server: ServerChild, times: StartTimes }> {
  // info: the seeder logs when resuming is done.
  const server = await startServerChild(dataDir, { LOG_LEVEL: 'info', ...maxActiveEnv })
  const served = id === undefined ? [0, 0] : [`/api/media/${id}`, `/api/media/${id}/torrent`].map(async p => await server.waitFor(p))
  const [ready, bytes, torrent] = await Promise.all([server.waitFor('/readyz'), ...served])
  return { server, times: { ready: ready!, bytes: bytes!, torrent: torrent! } }
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
  const ids = await populate(dataDir)
  console.log(`  stored in ${fmt((now() - t) / 1000, 1)} s through the blob store (manifest, .torrent, record, seeder.json)`)
  const rehash = await rehashMs(path.join(dataDir, 'media'), ids)

  // Starts alternate: empty data dir (the fixed cost: node, tsx, modules, the WebTorrent
  // client), then the 10,000 files with a new random file each time. Medians of RUNS.
  const emptyReady: number[] = []
  const fullRuns: Array<StartTimes & { hwm: number, active: number, resumedAt: { ms: number, active: number }, catalogueMs: number }> = []
  for (let run = 0; run < RUNS; run++) {
    const empty = await timedStart(path.join(tmp, 'empty'))
    servers.add(empty.server)
    emptyReady.push(empty.times.ready)
    await empty.server.stop()

    const id = ids[randomInt(ids.length)]!
    const { server, times } = await timedStart(dataDir, id)
    servers.add(server)
    const bytes = await get(`${server.base}/api/media/${id}`)
    if (bytes.status !== 200 || bytes.bytes !== FILE_SIZE) throw new Error(`GET /api/media/${id} answered ${bytes.status} with ${bytes.bytes} bytes`)
    const stats = await (await fetch(`${server.base}/api/seeder/stats`)).json() as { seedingCount: number, activeTorrents: number }
    if (stats.seedingCount !== FILES) throw new Error(`the seeder lists ${stats.seedingCount} files, expected ${FILES}`)
    // The first SEED_MAX_ACTIVE torrents come up in the background once the server is ready.
    const resumedAt = await allResumed(server)
    const catalogue = JSON.parse(server.lineMatching(/"catalogue loaded"/) ?? '{}') as { files?: number, ms?: number }
    if (catalogue.files !== FILES || catalogue.ms === undefined) throw new Error(`the server did not log its catalogue of ${FILES} files:\n${server.output()}`)
    const { hwm } = await procMem(server.pid)
    await server.stop()
    console.log(`  run ${run + 1}: empty ready ${fmt(empty.times.ready, 0)} ms; ${FILES} files: ready ${fmt(times.ready, 0)} ms, bytes ${fmt(times.bytes, 0)} ms, .torrent ${fmt(times.torrent, 0)} ms, peak RSS ${fmt(hwm / MiB)} MB`)
    fullRuns.push({ ...times, hwm, active: stats.activeTorrents, resumedAt, catalogueMs: catalogue.ms })
  }
  const full = { times: { ready: median(fullRuns.map(r => r.ready)), bytes: median(fullRuns.map(r => r.bytes)), torrent: median(fullRuns.map(r => r.torrent)) } }
  const empty = { times: { ready: median(emptyReady) } }
  const hwm = Math.max(...fullRuns.map(r => r.hwm))
  const stats = { activeTorrents: fullRuns[0]!.active }
  const resumedAt = { ms: median(fullRuns.map(r => r.resumedAt.ms)), active: fullRuns[0]!.resumedAt.active }

  // The start-up work each stored file costs, timed inside the server (the catalogue entry; no
  // torrent file is read). The difference of two ready times says the same, but within ±200 ms of noise.
  const perFileMs = median(fullRuns.map(r => r.catalogueMs)) / FILES
  const readyDiffMs = Math.max(0, full.times.ready - empty.times.ready) / FILES
  const ratio = perFileMs / rehash
  // Files that go active also load their .torrent and announce, in the background after ready.
  const perActiveMs = Math.max(0, resumedAt.ms - full.times.ready) / Math.max(1, resumedAt.active)
  const slowest = Math.max(full.times.ready, full.times.bytes, full.times.torrent)
  console.log('')
  console.log(`restart benchmark (times from process spawn, medians of ${RUNS} runs; peak RSS the highest)`)
  console.log(`  files                ${FILES} × ${FILE_SIZE / 1024} KiB; at ready ${stats.activeTorrents} torrents were active, all ${resumedAt.active} at ${fmt(resumedAt.ms, 0)} ms, the rest idle`)
  console.log(`  /readyz ready        ${fmt(full.times.ready, 0)} ms  (empty data dir: ${fmt(empty.times.ready, 0)} ms)`)
  console.log(`  random file served   bytes ${fmt(full.times.bytes, 0)} ms, .torrent ${fmt(full.times.torrent, 0)} ms  goal < ${TIME_GOAL_MS} ms  ${verdict(slowest < TIME_GOAL_MS)}`)
  console.log(`  peak RSS (VmHWM)     ${fmt(hwm / MiB)} MB  goal < ${RSS_GOAL_MB} MB  ${verdict(hwm / MiB < RSS_GOAL_MB)}`)
  console.log(`  per-file start       ${fmt(perFileMs * 1000, 2)} µs  (catalogue load timed in the server / files; (ready − empty ready) / files: ${fmt(readyDiffMs * 1000, 1)} µs)`)
  console.log(`  per active torrent   ${fmt(perActiveMs, 2)} ms  (in the background after ready: the stored .torrent read, no piece hashed, announced)`)
  console.log(`  re-hash one file     ${fmt(rehash * 1000, 1)} µs  (read + SHA-256 + SHA-1 pieces, cached, mean of ${Math.min(REHASH_SAMPLE, FILES)})`)
  console.log(`  ratio start/re-hash  ${fmt(ratio * 100, 2)} %  goal ≤ ${RATIO_GOAL * 100} %  ${verdict(ratio <= RATIO_GOAL)}`)
  console.log(`  ${os.availableParallelism()} CPUs, load average ${os.loadavg().map(n => fmt(n, 2)).join(' ')}`)
})
