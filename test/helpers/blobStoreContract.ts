/**
 * What every BlobStore does, as tests: each store's test file runs them over its own store
 * (server/storage/fsBlobStore.test.ts, s3BlobStore.test.ts), plus what is its own.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { buffer } from 'node:stream/consumers'
import { test } from 'node:test'
import { AppError } from '../../shared/errors.ts'
import type { MediaManifest } from '../../shared/media.ts'
import type { BlobStore } from '../../server/storage/blobStore.ts'
import { tempDir } from './server.ts'

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

export const manifestOf = (bytes: Uint8Array, name = 'a.bin'): MediaManifest =>
  ({ mediaId: sha256(bytes), originalName: name, mimeType: 'application/octet-stream', fileSize: bytes.length, infoHash: '0'.repeat(40), magnetURI: '', pieceLength: 16384, createdAt: new Date().toISOString() })

/** Stage `bytes` in 1 MiB batches at their offsets, as the hash job writes them, and publish them. */
export async function store (blobs: BlobStore, bytes: Uint8Array, torrent = new Uint8Array([1])): Promise<'created' | 'existed'> {
  const staging = await blobs.begin()
  for (let at = 0; at < bytes.length; at += 1 << 20) await staging.file.write(bytes.subarray(at, at + (1 << 20)), at, false)
  return await staging.commit(manifestOf(bytes), torrent)
}

/** Ids that must never become a path or a key: traversal, an absolute path, not lowercase hex. */
export const badIds = (id: string): string[] => ['..', '../' + id, `../../media/${id}`, '/etc/passwd', id.toUpperCase(), id + '/original', '']

/** The store's not-found error, and nothing in it that names where the bytes live. */
export function isNotFound (err: unknown): boolean {
  assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`)
  assert.equal(err.status, 404)
  assert.equal(err.code, 'not_found')
  assert.ok(!err.message.includes('original') && !err.message.includes('/'), err.message)
  return true
}

export function blobStoreContract (blobs: BlobStore): void {
  /** Larger than bytes.ts's 256 KiB reads and not a multiple of anything. */
  const bytes = randomBytes(300_001)
  const id = sha256(bytes)
  const missing = 'f'.repeat(64)
  const stored = store(blobs, bytes)
  stored.catch(() => {}) // each test that needs it awaits it (and fails with its error)

  test('a published blob is stored: has, stat, listed, and its manifest and .torrent read back', async () => {
    assert.equal(await stored, 'created')
    assert.equal(await blobs.has(id), true)
    assert.deepEqual(await blobs.stat(id), { size: bytes.length })
    assert.ok((await blobs.publishedAt(id))! > Date.now() - 60_000)
    const listed: string[] = []
    for await (const mediaId of blobs.list()) listed.push(mediaId)
    assert.ok(listed.includes(id), JSON.stringify(listed))
    assert.equal((await blobs.readManifest(id)).mediaId, id)
    assert.deepEqual(new Uint8Array(await blobs.readTorrent(id)), new Uint8Array([1]))
    assert.equal(await blobs.has(missing), false)
    assert.equal(await blobs.stat(missing), undefined)
    assert.equal(await blobs.publishedAt(missing), undefined)
  })

  test('the same bytes published again: existed, and the first manifest and .torrent stay', async () => {
    await stored
    assert.equal(await store(blobs, bytes, new Uint8Array([2])), 'existed')
    assert.deepEqual(new Uint8Array(await blobs.readTorrent(id)), new Uint8Array([1]))
    assert.deepEqual(await buffer(await blobs.read(id)), bytes)
  })

  test('a reader reads the first byte, the last, the middle and the whole blob', async () => {
    await stored
    const reader = blobs.reader(id)
    try {
      assert.deepEqual(await reader.readAt(0, 1), bytes.subarray(0, 1))
      assert.deepEqual(await reader.readAt(bytes.length - 1, 1), bytes.subarray(-1))
      assert.deepEqual(await reader.readAt(1000, 262_144), bytes.subarray(1000, 1000 + 262_144))
      assert.deepEqual(await reader.readAt(0, bytes.length), bytes)
    } finally {
      await reader.close()
    }
  })

  test('reads in order, and several at once, each get their own bytes', async () => {
    await stored
    const reader = blobs.reader(id)
    try {
      const into = Buffer.alloc(65_536)
      const got: Buffer[] = []
      for (let at = 0; at < bytes.length;) {
        const n = await reader.readInto(into, at)
        assert.ok(n > 0, `read nothing at ${at}`)
        got.push(Buffer.from(into.subarray(0, n)))
        at += n
      }
      assert.deepEqual(Buffer.concat(got), bytes)
      const offsets = [0, 250_000, 16_384, 131_072, 299_000]
      const pieces = await Promise.all(offsets.map(at => reader.readAt(at, 1000)))
      pieces.forEach((piece, i) => assert.deepEqual(piece, bytes.subarray(offsets[i], offsets[i]! + 1000), `at ${offsets[i]}`))
    } finally {
      await reader.close()
    }
  })

  test('readInto fills what is left of the blob and answers 0 past its end', async () => {
    await stored
    const reader = blobs.reader(id)
    const into = Buffer.alloc(1000)
    assert.equal(await reader.readInto(into, bytes.length - 10), 10)
    assert.deepEqual(into.subarray(0, 10), bytes.subarray(-10))
    assert.equal(await reader.readInto(into, bytes.length), 0)
    await assert.rejects(reader.readInto(into, -1), RangeError)
    await reader.close()
  })

  test('a read past the end is an error, not fewer bytes', async () => {
    await stored
    const reader = blobs.reader(id)
    await assert.rejects(reader.readAt(bytes.length - 1, 2), /short read at 300000: 1 of 2 bytes/)
    await assert.rejects(reader.readAt(bytes.length, 1), /short read/)
    await reader.close()
  })

  test('read() streams the whole blob', async () => {
    await stored
    assert.deepEqual(await buffer(await blobs.read(id)), bytes)
  })

  test('a blob that is not stored is not found, by stream and by reader, without naming where', async () => {
    await assert.rejects(blobs.read(missing), isNotFound)
    const reader = blobs.reader(missing)
    await assert.rejects(reader.readAt(0, 1), isNotFound)
    await assert.rejects(reader.readInto(Buffer.alloc(1), 0), isNotFound)
    await reader.close()
    // Removed while a reader waited to open: not found too.
    const again = randomBytes(10)
    await store(blobs, again)
    const late = blobs.reader(sha256(again))
    await blobs.remove(sha256(again))
    assert.equal(await blobs.has(sha256(again)), false)
    await assert.rejects(late.readAt(0, 1), isNotFound)
    // Removing what is gone is done.
    await blobs.remove(sha256(again))
  })

  test('ids that are not media ids are refused as not found: no traversal out of the store', async () => {
    for (const bad of badIds(id)) {
      await assert.rejects(blobs.read(bad), isNotFound, bad)
      const reader = blobs.reader(bad)
      await assert.rejects(reader.readAt(0, 1), isNotFound, bad)
      await reader.close()
      assert.throws(() => blobs.location(bad), isNotFound, bad)
      assert.equal(await blobs.has(bad), false, bad)
      assert.equal(blobs.isLocation(blobs.location(id), bad), false, bad)
    }
  })

  test('an aborted upload leaves nothing under its id', async () => {
    const bytes = randomBytes(70_000)
    const staging = await blobs.begin()
    await staging.file.write(bytes, 0, false)
    await staging.abort()
    assert.equal(await blobs.has(sha256(bytes)), false)
    for await (const mediaId of blobs.list()) assert.notEqual(mediaId, sha256(bytes))
  })

  test('an adopted file is published and is the store\'s; one not published goes back where it was', async () => {
    const dir = await tempDir('oip-adopt-')
    try {
      const file = path.join(dir, 'data')
      const bytes = randomBytes(90_000)
      await fs.writeFile(file, bytes)
      const kept = await blobs.adopt(file)
      await kept.abort()
      assert.deepEqual(await fs.readFile(file), bytes)
      assert.equal(await blobs.has(sha256(bytes)), false)

      const taken = await blobs.adopt(file)
      assert.deepEqual(await buffer(taken.read()), bytes)
      assert.equal(await taken.commit(manifestOf(bytes), new Uint8Array([3])), 'created')
      assert.deepEqual(await buffer(await blobs.read(sha256(bytes))), bytes)
      await assert.rejects(fs.stat(file), { code: 'ENOENT' })
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
}
