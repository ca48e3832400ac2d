/**
 * The server over a blob store that has no paths (test/helpers/memoryBlobStore.ts): uploads,
 * HTTP ranges and seeding to a BitTorrent client all go through
 * the BlobStore interface, so an object store is a new implementation of it, not a rewrite.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import { MemoryBlobStore } from '../helpers/memoryBlobStore.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

/** Several of bytes.ts's 256 KiB reads and several pieces, and not a whole number of either. */
const SIZE = 1024 * 1024 + 12_345
const bytes = Buffer.from(randomBytesSeeded(SIZE, 71))
const mediaId = createHash('sha256').update(bytes).digest('hex')
const store = new MemoryBlobStore()
let server: TestServer

before(async () => {
  server = await startTestServer({}, { store })
  const res = await upload(server.url, bytes)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  assert.equal(res.body.mediaId, mediaId)
})
after(async () => { await server?.destroy() })

test('the bytes are in the store and nowhere on disk', async () => {
  assert.equal((await store.stat(mediaId))?.size, SIZE)
  const onDisk = await fs.readdir(server.config.mediaDir, { recursive: true })
  assert.ok(!onDisk.some(name => name.includes(mediaId)), `MEDIA_DIR has ${JSON.stringify(onDisk)}`)
})

test('HTTP serves the whole file and ranges from the store', async () => {
  const before = store.reads.positional
  const whole = await fetch(`${server.url}/api/media/${mediaId}`)
  assert.equal(whole.status, 200)
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), bytes)

  for (const [header, start, end] of [['bytes=0-0', 0, 0], [`bytes=${SIZE - 1}-`, SIZE - 1, SIZE - 1], ['bytes=300000-700000', 300_000, 700_000], ['bytes=-5', SIZE - 5, SIZE - 1]] as const) {
    const res = await fetch(`${server.url}/api/media/${mediaId}`, { headers: { Range: header } })
    assert.equal(res.status, 206, header)
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(start, end + 1), header)
  }
  assert.ok(store.reads.positional > before, 'the responses did not read through the store')
  const past = await fetch(`${server.url}/api/media/${mediaId}`, { headers: { Range: `bytes=${SIZE}-` } })
  assert.equal(past.status, 416)
})

test('the .torrent comes from the database: a damaged torrent object in the store changes nothing and reads no bytes', async () => {
  const served = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${mediaId}/torrent`)).arrayBuffer()))
  await store.writeTorrent(mediaId, new TextEncoder().encode('not a torrent'))
  const streams = store.reads.streams
  const res = await fetch(`${server.url}/api/media/${mediaId}/torrent`)
  assert.equal(res.status, 200)
  assert.equal((await parseTorrent(new Uint8Array(await res.arrayBuffer()))).infoHash, served.infoHash)
  assert.equal(store.reads.streams, streams)
})

test('seedFile takes the store\'s location, which is no path, and nothing else', async () => {
  assert.equal((await server.seeder.getSeedingInfo(mediaId))?.filePath, `memory:${mediaId}`)
  await assert.rejects(server.seeder.seedFile(path.join(server.config.mediaDir, mediaId, 'original'), mediaId), /not the stored file/)
  assert.equal((await server.seeder.seedFile(`memory:${mediaId}`, mediaId)).fileSize, SIZE)
})

test('the seeder serves a BitTorrent client over TCP from the store, byte for byte', { timeout: 60_000 }, async () => {
  const served = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${mediaId}/torrent`)).arrayBuffer()))
  // Only the HTTP tracker: the bytes can come from the seeder's TCP peer and nowhere else.
  const onlyTcp = toTorrentFile({ ...served, announce: [`${server.url}/announce`], urlList: [] })
  const dir = await tempDir('oip-leecher-')
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
  try {
    const before = store.reads.positional
    const received = new Map<string, number>()
    const torrent: Torrent = client.add(onlyTcp, { path: dir })
    torrent.on('wire', (wire: Wire) => wire.on('download', (n: number) => received.set(wire.type, (received.get(wire.type) ?? 0) + n)))
    await new Promise<void>((resolve, reject) => {
      torrent.once('done', () => resolve())
      torrent.once('error', reject)
    })
    const file = torrent.files[0] as unknown as { arrayBuffer (): Promise<ArrayBuffer> }
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), bytes)
    assert.deepEqual([...received.keys()].filter(type => !type.startsWith('tcp')), [], JSON.stringify([...received]))
    assert.ok(store.reads.positional > before, 'the seeder did not read through the store')
  } finally {
    await new Promise<void>(resolve => client.destroy(() => resolve()))
    await fs.rm(dir, { recursive: true, force: true })
  }
})
