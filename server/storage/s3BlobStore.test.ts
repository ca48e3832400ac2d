/**
 * The S3 blob store against an S3-compatible server (an emulator on loopback, test/helpers/s3.ts):
 * the same contract as the filesystem store, then what is its own: the keys it writes, staging
 * parts and their collection, publish of a many-part file, and ranged reads.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, test } from 'node:test'
import { blobStoreContract, manifestOf, sha256, store } from '../../test/helpers/blobStoreContract.ts'
import { startS3 } from '../../test/helpers/s3.ts'
import { S3BlobStore } from './s3BlobStore.ts'
import type { S3Staging } from './s3Staging.ts'

const s3 = await startS3('oip-store', 'media/')
const blobs = new S3BlobStore(s3.settings, { maxUploadBytes: 1024 ** 3 })
await blobs.init()
after(async () => {
  await blobs.close()
  await s3.stop()
})

blobStoreContract(blobs)

const MiB = 1024 * 1024
/** Two whole 8 MiB parts and a partial third. */
const big = randomBytes(17 * MiB + 12_345)
const bigId = sha256(big)

test('a many-part upload is staged as parts, published as <mediaId>/original beside its manifest and .torrent, and the parts are gone', async () => {
  const staging = await blobs.begin()
  for (let at = 0; at < big.length; at += MiB) await staging.file.write(big.subarray(at, at + MiB), at, true)
  // Whole parts are PUT while the bytes come; nothing is under the id before the commit.
  assert.ok((await s3.keys()).some(k => k.startsWith('media/staging/')))
  assert.ok(!(await s3.keys()).some(k => k.includes(bigId)))
  assert.equal(await blobs.has(bigId), false)
  assert.equal(await staging.commit(manifestOf(big), new Uint8Array([9])), 'created')
  const keys = (await s3.keys()).filter(k => k.includes(bigId) || k.includes('staging/'))
  assert.deepEqual(keys, [`media/${bigId}/manifest.json`, `media/${bigId}/original`, `media/${bigId}/torrent`])
  assert.equal((await blobs.stat(bigId))?.size, big.length)
  assert.equal(blobs.location(bigId), `s3://oip-store/media/${bigId}/original`)
  assert.equal(blobs.isLocation(`s3://oip-store/media/${bigId}/original`, bigId), true)
  assert.equal(blobs.isLocation(`s3://oip-store/media/${bigId}/manifest.json`, bigId), false)
})

test('ranged reads across part boundaries, in order and at random, are byte-exact', async () => {
  const reader = blobs.reader(bigId)
  try {
    // In order through a boundary, as an HTTP range response reads.
    const into = Buffer.alloc(256 * 1024)
    let at = 8 * MiB - 300_000
    const got: Buffer[] = []
    while (at < 8 * MiB + 700_000) {
      const n = await reader.readInto(into, at)
      got.push(Buffer.from(into.subarray(0, n)))
      at += n
    }
    const read = Buffer.concat(got)
    assert.deepEqual(read, big.subarray(8 * MiB - 300_000, 8 * MiB - 300_000 + read.length))
    // Pieces at once, as the seeder reads them.
    const offsets = [0, 16 * MiB - 5, 3 * MiB, big.length - 100, 8 * MiB]
    const pieces = await Promise.all(offsets.map(o => reader.readAt(o, Math.min(MiB, big.length - o))))
    pieces.forEach((p, i) => assert.ok(p.length > 0 && Buffer.from(p).equals(big.subarray(offsets[i], offsets[i]! + p.length)), `at ${offsets[i]}`))
    assert.equal(await reader.readInto(into, big.length), 0)
  } finally {
    await reader.close()
  }
})

test('reads in order continue one GET: a whole file read 256 KiB at a time costs a GET per doubling range, not one per read', async () => {
  let gets = 0
  blobs.bucket.client.middlewareStack.add(next => async args => {
    if ((args.input as { Range?: string }).Range !== undefined) gets++
    return await next(args)
  }, { step: 'initialize', name: 'countGets' })
  const reader = blobs.reader(bigId)
  try {
    const into = Buffer.alloc(256 * 1024)
    const got: Buffer[] = []
    let reads = 0
    for (let at = 0, n; (n = await reader.readInto(into, at)) > 0; at += n, reads++) got.push(Buffer.from(into.subarray(0, n)))
    assert.ok(Buffer.concat(got).equals(big))
    // 256 KiB, 512 KiB, … 16 MiB: 7 ranges for the 69 reads of 17 MiB.
    assert.equal(reads, 69)
    assert.equal(gets, 7)
  } finally {
    await reader.close()
    blobs.bucket.client.middlewareStack.remove('countGets')
  }
})

test('a crash between staging and publish leaves no object under the id; its staging parts are collected once older than the grace', async () => {
  const bytes = randomBytes(9 * MiB)
  const crashed = new S3BlobStore(s3.settings, { maxUploadBytes: 1024 ** 3 })
  const staging = await crashed.begin()
  for (let at = 0; at < bytes.length; at += MiB) await staging.file.write(bytes.subarray(at, at + MiB), at, true)
  // Staged: every byte is in the bucket, as the commit first makes sure.
  await (staging.file as S3Staging).finish()
  // The process dies here: no publish, no abort.
  crashed.bucket.destroy()
  const staged = (await s3.keys()).filter(k => k.startsWith('media/staging/'))
  assert.equal(staged.length, 2)
  assert.equal(await blobs.has(sha256(bytes)), false)
  assert.ok(!(await s3.keys()).some(k => k.includes(sha256(bytes))))

  // Another process's collector: within the grace it stays (an upload may still be adding to it).
  assert.equal(await blobs.collectStaging(3_600_000), 0)
  assert.deepEqual((await s3.keys()).filter(k => k.startsWith('media/staging/')), staged)
  assert.equal(await blobs.collectStaging(0), 1)
  assert.deepEqual((await s3.keys()).filter(k => k.startsWith('media/staging/')), [])
})

test('the collector never takes the parts of an upload in flight in its own process', async () => {
  const bytes = randomBytes(9 * MiB)
  const staging = await blobs.begin()
  for (let at = 0; at < bytes.length; at += MiB) await staging.file.write(bytes.subarray(at, at + MiB), at, true)
  await (staging.file as S3Staging).finish()
  assert.equal(await blobs.collectStaging(0), 0)
  assert.equal(await staging.commit(manifestOf(bytes), new Uint8Array([1])), 'created')
  assert.deepEqual(Buffer.from(await blobs.reader(sha256(bytes)).readAt(0, bytes.length)), bytes)
})

test("another node's collector leaves a slow upload in flight alone: its node touches it every quarter of the grace, however slowly its parts come", async () => {
  const graceMs = 4000
  const slow = new S3BlobStore(s3.settings, { maxUploadBytes: 1024 ** 3, stagingGraceMs: graceMs })
  await slow.init()
  try {
    const bytes = randomBytes(9 * MiB)
    const staging = await slow.begin()
    // One whole part is PUT; the rest waits for more bytes, which come after longer than the grace.
    await staging.file.write(bytes.subarray(0, 8 * MiB + 1), 0, true)
    await new Promise(resolve => setTimeout(resolve, graceMs + 1500))
    await blobs.collectStaging(graceMs)
    await staging.file.write(bytes.subarray(8 * MiB + 1), 8 * MiB + 1, true)
    assert.equal(await staging.commit(manifestOf(bytes), new Uint8Array([1])), 'created')
    assert.deepEqual(Buffer.from(await blobs.reader(sha256(bytes)).readAt(0, bytes.length)), bytes)
    assert.deepEqual((await s3.keys()).filter(k => k.startsWith('media/staging/')), [], 'its heartbeat object went with its parts')
  } finally {
    await slow.close()
  }
})

test('bytes that come out of order are refused (an object is written front to back)', async () => {
  const staging = await blobs.begin()
  await assert.rejects(staging.file.write(Buffer.alloc(10), 5, false), /in order: got offset 5, expected 0/)
  await staging.abort()
})

test('publishing the same bytes again writes its manifest again as it was: publishedAt moves, the face stays', async () => {
  const bytes = randomBytes(5000)
  await store(blobs, bytes)
  const first = (await blobs.publishedAt(sha256(bytes)))!
  const manifest = await blobs.readManifest(sha256(bytes))
  // Object times are whole seconds.
  await new Promise(resolve => setTimeout(resolve, 1100))
  const again = await blobs.begin()
  await again.file.write(bytes, 0, false)
  assert.equal(await again.commit({ ...manifestOf(bytes), originalName: 'other.bin' }, new Uint8Array([7])), 'existed')
  assert.ok((await blobs.publishedAt(sha256(bytes)))! > first)
  assert.deepEqual(await blobs.readManifest(sha256(bytes)), manifest)
})

test('a removed blob is gone with its manifest and .torrent', async () => {
  const bytes = randomBytes(4000)
  await store(blobs, bytes)
  await blobs.remove(sha256(bytes))
  assert.ok(!(await s3.keys()).some(k => k.includes(sha256(bytes))))
})

test('a missing bucket is a start-up error that names the setting and says what to do', async () => {
  const wrong = new S3BlobStore({ ...s3.settings, bucket: 'no-such-bucket' }, { maxUploadBytes: 1024 })
  await assert.rejects(wrong.init(), { message: `S3_BUCKET "no-such-bucket" does not exist at S3_ENDPOINT ${s3.settings.endpoint}: create it, or set S3_BUCKET to an existing bucket` })
  await wrong.close()
  const unreachable = new S3BlobStore({ ...s3.settings, endpoint: 'http://127.0.0.1:9' }, { maxUploadBytes: 1024 })
  await assert.rejects(unreachable.init(), /^AppError: The object store at S3_ENDPOINT http:\/\/127\.0\.0\.1:9 cannot be reached \(.*ECONNREFUSED.*\): check S3_ENDPOINT and that the server is up$/)
  await unreachable.close()
})
