import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { pieceLength } from '../../shared/torrent.ts'
import { DirectFile } from '../storage/directFile.ts'
import { HashPool, type HashJob } from './hashPool.ts'

const MiB = 1024 * 1024
const pool = new HashPool(1)
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-hashpool-'))
after(async () => {
  await pool.close()
  await fs.rm(dir, { recursive: true, force: true })
})

/** What the job must answer: node:crypto over the whole bytes. */
function expected (bytes: Buffer): { mediaId: string, pieces: Buffer } {
  const len = pieceLength(bytes.length)
  const pieces: Buffer[] = []
  for (let at = 0; at < bytes.length; at += len) pieces.push(createHash('sha1').update(bytes.subarray(at, at + len)).digest())
  return { mediaId: createHash('sha256').update(bytes).digest('hex'), pieces: Buffer.concat(pieces) }
}

async function assertHashes (job: HashJob, bytes: Buffer): Promise<void> {
  const result = await job.finish()
  const want = expected(bytes)
  assert.equal(result.bytes, bytes.length)
  assert.equal(result.mediaId, want.mediaId)
  assert.deepEqual(Buffer.from(result.pieces!.pieces), want.pieces)
}

/** Feed `bytes` from `from` in uneven chunks, waiting when the job says so. */
async function feed (job: HashJob, bytes: Buffer, from = 0, seed = 1): Promise<void> {
  for (let at = from, i = 0; at < bytes.length; i++) {
    const size = 100_000 + ((i * 7919 + seed * 104_729) % 900_000)
    await job.update(bytes.subarray(at, at + size))
    at += size
  }
}

test('jobs that stop between their bytes and share the batch memory each get their own hashes', async () => {
  // Two uploads at once on one worker, in uneven chunks, each flushing now and then like a
  // resumable upload between requests: a batch reused too early would mix their bytes.
  const files = [randomBytes(9 * MiB + 123), randomBytes(7 * MiB + 7)]
  const jobs = files.map(f => pool.job([pieceLength(f.length)], { window: 2 }))
  const offsets = [0, 0]
  for (let round = 0; offsets.some((o, i) => o < files[i]!.length); round++) {
    for (const [i, file] of files.entries()) {
      const size = 300_000 + ((round * 7919 + i * 104_729) % 700_000)
      const chunk = file.subarray(offsets[i], offsets[i]! + size)
      if (chunk.length === 0) continue
      offsets[i]! += chunk.length
      await jobs[i]!.update(chunk)
      if (round % 3 === i) await jobs[i]!.flush()
    }
  }
  for (const [i, file] of files.entries()) await assertHashes(jobs[i]!, file)
})

test('a job writes what it hashes: whole MiB straight to the disk, the odd ends the ordinary way', async () => {
  const bytes = randomBytes(21 * MiB + 4321)
  const file = await DirectFile.open(path.join(dir, 'whole'), 'create')
  const job = pool.job([pieceLength(bytes.length)])
  job.writeTo(file)
  await feed(job, bytes)
  await job.flush()
  await file.close()
  await assertHashes(job, bytes)
  assert.ok((await fs.readFile(path.join(dir, 'whole'))).equals(bytes))
  // Every whole MiB from the aligned memory went with direct I/O where the filesystem has it.
  const direct = await DirectFile.supported(dir)
  assert.deepEqual(file.written, direct ? { direct: 21 * MiB, buffered: 4321 } : { direct: 0, buffered: bytes.length })
})

test('bytes re-read from disk are only hashed, and a resumed upload at an odd offset is written aligned again after its first MiB', async () => {
  // A resumable upload after a restart: its first bytes are on disk (hashed again, not written),
  // then new bytes come from an odd offset.
  const bytes = randomBytes(12 * MiB + 99)
  const cut = 3 * MiB + 12345
  const target = path.join(dir, 'resumed')
  await fs.writeFile(target, bytes.subarray(0, cut))
  const job = pool.job([pieceLength(bytes.length)], { window: 8 })
  await feed(job, bytes.subarray(0, cut))
  const file = await DirectFile.open(target, 'existing')
  job.writeTo(file)
  await feed(job, bytes, cut, 2)
  await job.flush()
  job.writeTo(undefined)
  await file.close()
  await assertHashes(job, bytes)
  assert.ok((await fs.readFile(target)).equals(bytes))
  if (await DirectFile.supported(dir)) assert.deepEqual(file.written, { direct: 8 * MiB, buffered: (4 * MiB - cut) + 99 })
})

test('many jobs with many batches in flight each get their own bytes and hashes, and none is stuck', async () => {
  // 6 × 16 batches asked for before any is handed back: more than the spares and more than the
  // pool lets be in flight at once (64), so jobs wait for room that other jobs make.
  const files = [0, 1, 2, 3, 4, 5].map(i => randomBytes(16 * MiB + i * 1000))
  const outputs = await Promise.all(files.map(async (_, i) => await DirectFile.open(path.join(dir, `many-${i}`), 'create')))
  const jobs = files.map((f, i) => {
    const job = pool.job([pieceLength(f.length)], { window: 16 })
    job.writeTo(outputs[i])
    return job
  })
  await Promise.all(files.map(async (file, i) => { await feed(jobs[i]!, file, 0, i) }))
  await Promise.all(jobs.map(async j => await j.flush()))
  for (const [i, file] of files.entries()) {
    await outputs[i]!.close()
    await assertHashes(jobs[i]!, file)
    assert.ok((await fs.readFile(path.join(dir, `many-${i}`))).equals(file))
  }
})

test('a batch is not reused, or moved to the hasher, before its write is done', async () => {
  // A disk that takes its time, a little different for each write: the bytes it gets must
  // still be the batch's bytes when it finally reads them.
  const bytes = randomBytes(10 * MiB + 5)
  const disk = Buffer.alloc(bytes.length)
  let slow = 0
  const job = pool.job([pieceLength(bytes.length)], { window: 3 })
  job.writeTo({
    write: async (batch, position) => {
      await new Promise(resolve => setTimeout(resolve, 1 + (slow++ * 7) % 5))
      disk.set(batch, position)
    }
  })
  await feed(job, bytes, 0, 3)
  await job.flush()
  assert.ok(disk.equals(bytes))
  await assertHashes(job, bytes)
})

test('a failed write fails the job: the feeder, flush and finish get the error and the job lets go of its batches', async () => {
  const job = pool.job([pieceLength(4 * MiB)])
  job.writeTo({ write: async () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) } })
  await job.update(randomBytes(MiB + 10))
  await assert.rejects(job.flush(), { code: 'ENOSPC' })
  assert.throws(() => job.update(randomBytes(10)), { code: 'ENOSPC' })
  await assert.rejects(job.finish(), { code: 'ENOSPC' })
  assert.equal(pool.batchesInFlight, 0)
})

test('a dropped job answers its open questions and lets go of its batches', { timeout: 20_000 }, async () => {
  // A checkpoint asked while batches wait for a slow disk, then the job is dropped (an upload
  // forgotten after a failure): the question must not wait forever.
  let release: () => void = () => {}
  const job = pool.job([pieceLength(8 * MiB)], { window: 8 })
  job.writeTo({ write: async () => await new Promise<void>(resolve => { release = resolve }) })
  job.update(randomBytes(3 * MiB))
  const checkpoint = job.checkpoint()
  job.drop()
  await assert.rejects(checkpoint, /dropped/)
  release()
  assert.equal(pool.batchesInFlight, 0)
})

test('bytes given after finish() are refused instead of being lost', async () => {
  const job = pool.job([pieceLength(MiB)])
  await job.update(randomBytes(1000))
  const result = job.finish()
  assert.throws(() => job.update(randomBytes(10)), /after finish/)
  assert.equal((await result).bytes, 1000)
  assert.equal(pool.batchesInFlight, 0)
})

test('the direct I/O probe answers and leaves nothing behind', async () => {
  const probeDir = await fs.mkdtemp(path.join(dir, 'probe-'))
  assert.equal(typeof await DirectFile.supported(probeDir), 'boolean')
  assert.deepEqual(await fs.readdir(probeDir), [])
})
