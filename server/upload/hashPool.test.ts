import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { pieceLength } from '../../shared/torrent.ts'
import { HashPool } from './hashPool.ts'

const pool = new HashPool(1)
after(async () => { await pool.close() })

/** What the job must answer: node:crypto over the whole bytes. */
function expected (bytes: Buffer): { mediaId: string, pieces: Buffer } {
  const len = pieceLength(bytes.length)
  const pieces: Buffer[] = []
  for (let at = 0; at < bytes.length; at += len) pieces.push(createHash('sha1').update(bytes.subarray(at, at + len)).digest())
  return { mediaId: createHash('sha256').update(bytes).digest('hex'), pieces: Buffer.concat(pieces) }
}

test('jobs that rest between their bytes and share the batch buffers each get their own hashes', async () => {
  // Two uploads at once on one worker, in uneven chunks, each resting now and then like a
  // resumable upload between requests: a batch buffer reused too early would mix their bytes.
  const files = [randomBytes(9 * 1024 * 1024 + 123), randomBytes(7 * 1024 * 1024 + 7)]
  const jobs = files.map(f => pool.job([pieceLength(f.length)], { window: 2 }))
  const offsets = [0, 0]
  for (let round = 0; offsets.some((o, i) => o < files[i]!.length); round++) {
    for (const [i, file] of files.entries()) {
      const size = 300_000 + ((round * 7919 + i * 104_729) % 700_000)
      const chunk = file.subarray(offsets[i], offsets[i]! + size)
      if (chunk.length === 0) continue
      offsets[i]! += chunk.length
      await jobs[i]!.update(chunk)
      if (round % 3 === i) jobs[i]!.rest()
    }
  }
  const results = await Promise.all(jobs.map(async j => await j.finish()))
  for (const [i, file] of files.entries()) {
    const want = expected(file)
    assert.equal(results[i]!.bytes, file.length)
    assert.equal(results[i]!.mediaId, want.mediaId)
    assert.deepEqual(Buffer.from(results[i]!.pieces!.pieces), want.pieces)
  }
})
