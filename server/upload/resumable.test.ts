import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { after, test } from 'node:test'
import { UploadRepository } from '../catalog/uploadRepository.ts'
import { openDatabase } from '../db/database.ts'
import { createLogger } from '../logger.ts'
import { FsBlobStore } from '../storage/fsBlobStore.ts'
import { FsUploadStore } from '../storage/fsUploadStore.ts'
import { HashPool } from './hashPool.ts'
import { ResumableUploads } from './resumable.ts'
import { UploadGate } from './uploadGate.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-resumable-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

const MiB = 1024 * 1024
const PUBLIC = `filename ${Buffer.from('f.bin').toString('base64')},access_level ${Buffer.from('public').toString('base64')}`

test('beyond the resting hash jobs, the least recently sent to is let go and rebuilt from its bytes: interleaved uploads all publish what was sent', async () => {
  const database = await openDatabase({ sqliteFile: path.join(dir, 'db.sqlite') })
  const hashPool = new HashPool(1)
  const blobs = new FsBlobStore(path.join(dir, 'media'))
  await blobs.init()
  const rebuilt: string[] = []
  const log = createLogger('info', { write: (line: string) => { if (line.includes('resuming an upload')) rebuilt.push(JSON.parse(line).upload) } })
  const uploads = new ResumableUploads({
    store: new FsUploadStore(path.join(dir, 'media')),
    uploads: new UploadRepository(database.db, database.dialect),
    blobs,
    hashPool,
    gate: new UploadGate({ maxConcurrent: 4, lowWaterBytes: 0, mediaDir: dir }),
    maxUploadBytes: 100 * MiB,
    expiryMs: 3600_000,
    // What was published is all this test needs to see; the bytes go back where they were.
    complete: async staged => {
      await staged.pending.abort()
      return { status: 201, result: { mediaId: staged.hashes.mediaId } as never }
    },
    admit: async () => {},
    log,
    restingJobs: 2
  })
  try {
    await uploads.init()
    const files = [1, 2, 3].map(n => Buffer.alloc(2 * MiB + n, n))
    const ids = await Promise.all(files.map(async f => (await uploads.create('owner', String(f.length), PUBLIC)).id))
    const send = async (i: number, from: number, to: number): Promise<string | undefined> =>
      (await uploads.append(ids[i]!, 'owner', from, Readable.from([files[i]!.subarray(from, to)]))).result?.mediaId
    // Each sends its first MiB: the third one's job pushes out the first's.
    for (const i of [0, 1, 2]) assert.equal(await send(i, 0, MiB), undefined)
    assert.deepEqual(rebuilt, [])
    // The first, sent to again, hashes its first MiB from the store once more (and pushes out the second's).
    const published = [await send(0, MiB, files[0]!.length), await send(1, MiB, files[1]!.length), await send(2, MiB, files[2]!.length)]
    assert.deepEqual(rebuilt, [ids[0], ids[1]])
    assert.deepEqual(published, files.map(f => createHash('sha256').update(f).digest('hex')))
  } finally {
    uploads.close()
    await hashPool.close()
    await database.close()
  }
})
