import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buffer } from 'node:stream/consumers'
import { after, test } from 'node:test'
import { AppError } from '../../shared/errors.ts'
import { FsBlobStore } from './fsBlobStore.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-blobstore-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })
const store = new FsBlobStore(dir)
await store.init()

/** Larger than bytes.ts's 256 KiB reads and not a multiple of anything. */
const bytes = randomBytes(300_001)
const id = createHash('sha256').update(bytes).digest('hex')
const staging = await store.begin()
await staging.file.write(bytes, 0, false)
await staging.commit({ mediaId: id, originalName: 'a.bin', mimeType: 'application/octet-stream', fileSize: bytes.length, infoHash: '0'.repeat(40), magnetURI: '', pieceLength: 16384, createdAt: new Date().toISOString() }, new Uint8Array([1]))

const missing = 'f'.repeat(64)
/** Ids that must never become a path: traversal, an absolute path, not lowercase hex. */
const badIds = ['..', '../' + id, `../../${path.basename(dir)}/${id}`, '/etc/passwd', id.toUpperCase(), id + '/original', '']

/** The store's not-found error, and nothing in it that names the disk. */
function isNotFound (err: unknown): boolean {
  assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`)
  assert.equal(err.status, 404)
  assert.equal(err.code, 'not_found')
  assert.ok(!err.message.includes(dir) && !err.message.includes('original'), err.message)
  return true
}

test('a reader reads the first byte, the last, the middle and the whole blob', async () => {
  const reader = store.reader(id)
  try {
    assert.deepEqual(await reader.readAt(0, 1), bytes.subarray(0, 1))
    assert.deepEqual(await reader.readAt(bytes.length - 1, 1), bytes.subarray(-1))
    assert.deepEqual(await reader.readAt(1000, 262_144), bytes.subarray(1000, 1000 + 262_144))
    assert.deepEqual(await reader.readAt(0, bytes.length), bytes)
  } finally {
    await reader.close()
  }
})

test('readInto fills what is left of the blob and answers 0 past its end', async () => {
  const reader = store.reader(id)
  const into = Buffer.alloc(1000)
  assert.equal(await reader.readInto(into, bytes.length - 10), 10)
  assert.deepEqual(into.subarray(0, 10), bytes.subarray(-10))
  assert.equal(await reader.readInto(into, bytes.length), 0)
  await assert.rejects(reader.readInto(into, -1), RangeError)
  await reader.close()
})

test('a read past the end is an error, not fewer bytes', async () => {
  const reader = store.reader(id)
  await assert.rejects(reader.readAt(bytes.length - 1, 2), /short read at 300000: 1 of 2 bytes/)
  await assert.rejects(reader.readAt(bytes.length, 1), /short read/)
  await reader.close()
})

test('read() streams the whole blob', async () => {
  assert.deepEqual(await buffer(await store.read(id)), bytes)
})

test('a blob that is not stored is not found, by stream and by reader, without naming a path', async () => {
  await assert.rejects(store.read(missing), isNotFound)
  const reader = store.reader(missing)
  await assert.rejects(reader.readAt(0, 1), isNotFound)
  await assert.rejects(reader.readInto(Buffer.alloc(1), 0), isNotFound)
  await reader.close()
  // Removed while a reader waited to open: not found too.
  const again = randomBytes(10)
  const againId = createHash('sha256').update(again).digest('hex')
  const pending = await store.begin()
  await pending.file.write(again, 0, false)
  await pending.commit({ mediaId: againId, originalName: 'b.bin', mimeType: 'application/octet-stream', fileSize: 10, infoHash: '1'.repeat(40), magnetURI: '', pieceLength: 16384, createdAt: new Date().toISOString() }, new Uint8Array([1]))
  const late = store.reader(againId)
  await store.remove(againId)
  await assert.rejects(late.readAt(0, 1), isNotFound)
})

test('ids that are not media ids are refused as not found: no traversal out of the store', async () => {
  for (const bad of badIds) {
    await assert.rejects(store.read(bad), isNotFound, bad)
    const reader = store.reader(bad)
    await assert.rejects(reader.readAt(0, 1), isNotFound, bad)
    await reader.close()
    assert.throws(() => store.location(bad), isNotFound, bad)
    assert.equal(store.isLocation(path.join(dir, bad, 'original'), bad), false, bad)
  }
})

test('location is where the blob lives; isLocation accepts it in any spelling and nothing else', () => {
  const location = store.location(id)
  assert.equal(location, path.join(dir, id, 'original'))
  assert.equal(store.isLocation(location, id), true)
  assert.equal(store.isLocation(path.join(dir, '.', id, '..', id, 'original'), id), true)
  assert.equal(store.isLocation(location, missing), false)
  assert.equal(store.isLocation(path.join(dir, id, 'manifest.json'), id), false)
  assert.equal(store.isLocation('/etc/passwd', id), false)
})
