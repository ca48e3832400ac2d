/**
 * Resumable uploads' bytes in a bucket (an S3 emulator on loopback): requests of any size leave
 * a chain of objects whose every object but the last is at least S3's smallest part (so the
 * publish's multipart copy is valid on S3, which the emulator does not check), bytes past the
 * acknowledged offset are cut before the next request writes, and the chain publishes byte-exact.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, test } from 'node:test'
import { buildTorrent } from '../../shared/torrent.ts'
import { randomBytesSeeded } from '../../test/helpers/server.ts'
import { startS3, type TestBucket } from '../../test/helpers/s3.ts'
import { sha1 } from '../upload/nodeHashers.ts'
import { S3BlobStore } from './s3BlobStore.ts'
import type { S3UploadStore } from './s3UploadStore.ts'

const MiB = 1024 * 1024
const MIN_PART = 5 * MiB
const ID = 'ab'.repeat(16)

let s3: TestBucket
let blobs: S3BlobStore
let store: S3UploadStore

before(async () => {
  s3 = await startS3('oip-uploads', 'u/')
  blobs = new S3BlobStore(s3.settings, { maxUploadBytes: 10 * 1024 ** 3 })
  store = blobs.uploadStore()
})
after(async () => {
  await blobs?.close()
  await s3?.stop()
})

/** The upload's objects: offset and size each, in order. */
async function objects (): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = []
  for (const key of await s3.keys()) {
    if (key.startsWith(`u/uploads/${ID}/`)) out.push([Number(key.split('/').pop()), (await s3.size(key))!])
  }
  return out
}

async function send (bytes: Uint8Array, from: number, to: number): Promise<void> {
  const file = await store.append(ID, from)
  // In batches, as the hash job writes them.
  for (let at = from; at < to; at += MiB) await file.write(bytes.subarray(at, Math.min(to, at + MiB)), at, false)
  await file.close()
}

async function readAll (size: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of store.read(ID, size)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

test('requests of any size: every object but the last is at least 5 MiB, the chain reads back byte-exact, and it publishes as the file', async () => {
  const bytes = randomBytesSeeded(28 * MiB + 777, 701)
  await store.create(ID)
  assert.equal(await store.size(ID), 0)
  let at = 0
  for (const size of [3 * MiB, 1, 3 * MiB, 5 * MiB, 8 * MiB + 3, MiB]) {
    await send(bytes, at, at + size)
    at += size
    const chain = await objects()
    assert.equal(await store.size(ID), at)
    chain.slice(0, -1).forEach(([start, length]) => assert.ok(length >= MIN_PART, `object at ${start} holds ${length} bytes: ${JSON.stringify(chain)}`))
    assert.ok((await readAll(at)).equals(bytes.subarray(0, at)), `the bytes so far, after ${at}`)
  }
  await send(bytes, at, bytes.length)
  const mediaId = createHash('sha256').update(bytes).digest('hex')
  const { torrentFile } = buildTorrent({ name: 'f', length: bytes.length, pieceLength: 4 * MiB, pieces: new Uint8Array(Math.ceil(bytes.length / (4 * MiB)) * 20) }, { announce: [], urlList: [] }, sha1)
  const pending = await store.handOver(ID, blobs)
  assert.equal(await pending.commit({ mediaId, originalName: 'f', mimeType: 'application/octet-stream', fileSize: bytes.length, infoHash: '', magnetURI: '', pieceLength: 4 * MiB, createdAt: '' }, torrentFile), 'created')
  const published = Buffer.concat(await (await blobs.read(mediaId)).toArray())
  assert.ok(published.equals(bytes))
  await store.remove(ID)
  assert.deepEqual(await objects(), [])
})

test('bytes past the acknowledged offset (a request that was not acknowledged) are cut before the next request writes', async () => {
  const bytes = randomBytesSeeded(20 * MiB, 702)
  await store.create(ID)
  await send(bytes, 0, 10 * MiB)
  // A request from 10 MiB wrote 9 MiB and was not acknowledged; the next comes from 10 MiB again.
  await send(bytes, 10 * MiB, 19 * MiB)
  const other = randomBytesSeeded(20 * MiB, 703)
  await send(other, 10 * MiB, 14 * MiB)
  assert.equal(await store.size(ID), 14 * MiB)
  assert.ok((await readAll(14 * MiB)).equals(Buffer.concat([bytes.subarray(0, 10 * MiB), other.subarray(10 * MiB, 14 * MiB)])))
  // Cut back inside an object: it is written again, shorter.
  await store.truncate(ID, 9 * MiB)
  assert.equal(await store.size(ID), 9 * MiB)
  assert.deepEqual(await objects(), [[0, 8 * MiB], [8 * MiB, MiB]])
  await store.remove(ID)
})

test('an upload with no objects has lost its bytes: its size is refused', async () => {
  await assert.rejects(store.size('cd'.repeat(16)), { status: 404 })
})
