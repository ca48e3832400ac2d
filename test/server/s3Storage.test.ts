/**
 * The server with BLOB_STORE=s3 against an S3-compatible server (an emulator on loopback, see
 * test/helpers/s3.ts): uploads (multipart and tus) land in the bucket in the seed's layout, come
 * back byte-exact whole and by Range, a BitTorrent client gets them from the seeder, private
 * files leave nothing of theirs in the bucket but their bytes under their id, and a bucket that
 * is missing or gone is said so at start and in /readyz.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent, { type Torrent } from 'webtorrent'
import type { S3BlobStore } from '../../server/storage/s3BlobStore.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { startS3, type TestBucket } from '../helpers/s3.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'
import { createUpload, published, sendFrom } from '../helpers/tus.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024
/** Two staging parts (8 MiB each) and a bit: the publish copies several parts. */
const SIZE = 9 * MiB + 12_345

let s3: TestBucket
let server: TestServer
let client: S3Client

before(async () => {
  s3 = await startS3('oip-media', 'oip/')
  server = await startTestServer(s3.env)
  client = new S3Client({ region: 'us-east-1', endpoint: s3.settings.endpoint, forcePathStyle: true })
})
after(async () => {
  client?.destroy()
  await server?.destroy()
  await s3?.stop()
})

/** The whole file and a few ranges of it, byte-exact, from the server. */
async function assertServed (mediaId: string, bytes: Uint8Array, token?: string): Promise<void> {
  const whole = await fetch(`${server.url}/api/media/${mediaId}`, { headers: bearer(token) })
  assert.equal(whole.status, 200)
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes), 'the whole file differs')
  const size = bytes.length
  // Across the first staging part's end when there is one.
  const mid = Math.min(8 * MiB, size >> 1)
  for (const [header, start, end] of [['bytes=0-0', 0, 0], [`bytes=${mid - 10}-${mid + 100_000}`, mid - 10, mid + 100_000], [`bytes=${size - 5}-`, size - 5, size - 1], ['bytes=-70000', size - 70_000, size - 1]] as const) {
    const res = await fetch(`${server.url}/api/media/${mediaId}`, { headers: { Range: header, ...bearer(token) } })
    assert.equal(res.status, 206, header)
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`)
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), header)
  }
}

const keysOf = async (mediaId: string): Promise<string[]> => (await s3.keys()).filter(k => k.includes(mediaId))

test('a multipart upload goes to the bucket as <prefix><mediaId>/{original, manifest.json, torrent} in one pass (no byte read back), nothing on disk, and comes back whole and by Range', async () => {
  const bytes = randomBytesSeeded(SIZE, 301)
  // Every object the server GETs from the bucket while it takes the upload.
  const { client: serverClient } = (server.store as S3BlobStore).bucket
  const got: string[] = []
  serverClient.middlewareStack.add((next, context) => async args => {
    if (context.commandName === 'GetObjectCommand') got.push(String((args.input as { Key?: string }).Key))
    return await next(args)
  }, { step: 'initialize', name: 'countUploadGets' })
  let res: Awaited<ReturnType<typeof upload>>
  try {
    res = await upload(server.url, bytes, { access_level: 'public' }, 'clip.bin')
  } finally {
    serverClient.middlewareStack.remove('countUploadGets')
  }
  assert.equal(res.status, 201, JSON.stringify(res.body))
  assert.deepEqual(got, [], 'the staged parts were not read back: the bytes were hashed as they went')
  const mediaId = sha256(bytes)
  assert.equal(res.body.mediaId, mediaId)
  assert.deepEqual(await keysOf(mediaId), [`oip/${mediaId}/manifest.json`, `oip/${mediaId}/original`, `oip/${mediaId}/torrent`])
  assert.deepEqual((await s3.keys()).filter(k => k.includes('staging/')), [], 'the staging parts were deleted')
  const onDisk = await fs.readdir(server.config.mediaDir, { recursive: true })
  assert.ok(!onDisk.some(name => name.includes(mediaId)), `MEDIA_DIR has ${JSON.stringify(onDisk)}`)
  assert.equal((await server.seeder.getSeedingInfo(mediaId))?.filePath, `s3://oip-media/oip/${mediaId}/original`)
  await assertServed(mediaId, bytes)
})

test('a tus upload waits in the bucket (uploads/<id>/), is published from there and comes back whole and by Range', async () => {
  const token = await signIn(server.url, await newIdentity())
  const bytes = randomBytesSeeded(SIZE, 302)
  const { res, url } = await createUpload(server.url, token, bytes.length, { filename: 'tus.bin', access_level: 'public' })
  assert.equal(res.status, 201)
  const result = await published(url, token, await sendFrom(url, token, bytes, 0))
  assert.equal(result.mediaId, sha256(bytes))
  assert.deepEqual(await keysOf(result.mediaId), [`oip/${result.mediaId}/manifest.json`, `oip/${result.mediaId}/original`, `oip/${result.mediaId}/torrent`])
  // Nothing of it on the local disk, nothing left under uploads/.
  const onDisk = await fs.readdir(server.config.mediaDir, { recursive: true })
  assert.ok(!onDisk.some(name => name.startsWith('.uploads/')), `MEDIA_DIR has ${JSON.stringify(onDisk)}`)
  assert.deepEqual((await s3.keys()).filter(k => k.startsWith('oip/uploads/')), [])
  await assertServed(result.mediaId, bytes)
})

test('a private file\'s name and type are nowhere in the bucket: its objects are its id\'s, and no object is written public', async () => {
  const identity = await newIdentity()
  const token = await signIn(server.url, identity)
  const bytes = randomBytesSeeded(300_000, 303)
  // Every request the server's store sends to the bucket while it stores the file.
  const sent: Array<Record<string, string>> = []
  ;(server.store as S3BlobStore).bucket.client.middlewareStack.add(next => async args => {
    sent.push({ ...(args.request as { headers: Record<string, string> }).headers })
    return await next(args)
  }, { step: 'finalizeRequest', name: 'recordHeaders' })
  const res = await upload(server.url, bytes, { access_level: 'private' }, 'my-secret-holiday.mp4', 'video/mp4', token)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  ;(server.store as S3BlobStore).bucket.client.middlewareStack.remove('recordHeaders')
  assert.ok(sent.some(h => Object.keys(h).includes('content-type')), 'requests were seen')
  for (const headers of sent) {
    // No canned ACL and no grant: every object stays as private as the bucket.
    assert.deepEqual(Object.keys(headers).filter(h => /^x-amz-(acl|grant-)/i.test(h)), [], JSON.stringify(headers))
    assert.ok(!Object.values(headers).some(v => /holiday|video\/mp4/.test(v)), JSON.stringify(headers))
  }
  const mediaId = sha256(bytes)
  const keys = await keysOf(mediaId)
  assert.deepEqual(keys, [`oip/${mediaId}/manifest.json`, `oip/${mediaId}/original`, `oip/${mediaId}/torrent`])
  for (const key of keys) {
    const got = await client.send(new GetObjectCommand({ Bucket: 'oip-media', Key: key }))
    const text = Buffer.from(await got.Body!.transformToByteArray()).toString('latin1')
    assert.ok(!text.includes('my-secret-holiday') && !text.includes('video/mp4'), `${key} names the private upload`)
    assert.ok(!JSON.stringify(got.Metadata ?? {}).includes('holiday'), `${key}'s metadata names it`)
    assert.notEqual(got.ContentType, 'video/mp4', key)
  }
  // Every object the server wrote lies under its prefix, in the layout the README's bucket policy keeps private.
  for (const key of await s3.keys()) assert.match(key, /^oip\/[0-9a-f]{64}\/(original|manifest\.json|torrent)$/)
  const head = await client.send(new HeadObjectCommand({ Bucket: 'oip-media', Key: `oip/${mediaId}/original` }))
  assert.equal(head.ContentType, 'application/octet-stream')
  await assertServed(mediaId, bytes, token)
  assert.equal((await fetch(`${server.url}/api/media/${mediaId}`)).status, 404, 'anyone else: not found')
})

test('the seeder serves a BitTorrent client over TCP from the bucket, byte for byte', { timeout: 60_000 }, async () => {
  const bytes = randomBytesSeeded(3 * MiB + 777, 304)
  assert.equal((await upload(server.url, bytes)).status, 201)
  const served = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${sha256(bytes)}/torrent`)).arrayBuffer()))
  // Only the HTTP tracker: the bytes can come from the seeder's TCP peer and nowhere else.
  const onlyTcp = toTorrentFile({ ...served, announce: [`${server.url}/announce`], urlList: [] })
  const dir = await tempDir('oip-leecher-')
  const leecher = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
  try {
    const torrent: Torrent = leecher.add(onlyTcp, { path: dir })
    await new Promise<void>((resolve, reject) => {
      torrent.once('done', () => resolve())
      torrent.once('error', reject)
    })
    const file = torrent.files[0] as unknown as { arrayBuffer (): Promise<ArrayBuffer> }
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(bytes))
  } finally {
    await new Promise<void>(resolve => leecher.destroy(() => resolve()))
    await fs.rm(dir, { recursive: true, force: true })
  }
})

test('the local disk\'s low-water mark stops no upload when the bytes go to the bucket: uploads and tus creations pass, /readyz has no disk check, the dashboard says the disk is only local', async () => {
  // More free space than any disk has: with BLOB_STORE=fs every upload would get 507.
  const roomless = await startTestServer({ ...s3.env, DISK_LOW_WATER_BYTES: String(Number.MAX_SAFE_INTEGER) })
  try {
    const bytes = randomBytesSeeded(200_000, 306)
    const res = await upload(roomless.url, bytes)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const token = await signIn(roomless.url, await newIdentity())
    const tus = randomBytesSeeded(150_000, 307)
    const { res: created, url } = await createUpload(roomless.url, token, tus.length, { filename: 'tus.bin', access_level: 'public' })
    assert.equal(created.status, 201, await created.text())
    assert.equal((await published(url, token, await sendFrom(url, token, tus, 0))).mediaId, sha256(tus))
    const ready = await fetch(`${roomless.url}/readyz`)
    const { checks } = await ready.json()
    assert.equal(ready.status, 200, JSON.stringify(checks))
    assert.deepEqual(Object.keys(checks).sort(), ['blobStore', 'database', 'seeder', 'tracker'])
    const history = await (await fetch(`${roomless.url}/api/seeder/history`)).json()
    assert.equal(history.disk.lowWater, null)
    assert.ok(history.disk.size > 0)
  } finally {
    await roomless.destroy()
  }
})

test('a missing bucket stops the start with an error that names the setting', async () => {
  await assert.rejects(startTestServer({ ...s3.env, S3_BUCKET: 'not-created' }),
    { message: `S3_BUCKET "not-created" does not exist at S3_ENDPOINT ${s3.settings.endpoint}: create it, or set S3_BUCKET to an existing bucket` })
})

test('/readyz says when the object store cannot be reached, and uploads get 503 with nothing stored', async () => {
  assert.equal((await (await fetch(`${server.url}/readyz`)).json()).checks.blobStore.ok, true)
  await s3.stop()
  const res = await fetch(`${server.url}/readyz`)
  assert.equal(res.status, 503)
  const { checks } = await res.json()
  assert.equal(checks.blobStore.ok, false)
  assert.match(checks.blobStore.reason, /^The object store at S3_ENDPOINT http:\/\/127\.0\.0\.1:\d+ cannot be reached \(.*ECONNREFUSED.*\): check S3_ENDPOINT and that the server is up$/)
  const refused = await upload(server.url, randomBytesSeeded(10_000, 305))
  assert.equal(refused.status, 503)
  assert.equal(refused.body.error.code, 'storage_unavailable')
  assert.match(refused.body.error.message, /Try again later/)
})
