/**
 * BLOB_STORE=s3 with S3_PUBLIC_URL (an S3 emulator on loopback, test/helpers/s3.ts, read
 * anonymously the way a public bucket or a CDN is): a public torrent names the node and the
 * file's public copy in the bucket as web seeds (infoHash unchanged, files stored before the
 * setting get the copy too), a BitTorrent client downloads from the bucket with no node in the
 * path, a file made private loses its copy, private bytes are never under public/, and the node
 * proxies them after its access check with Range passthrough.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent, { type Torrent } from 'webtorrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { startS3, type TestBucket } from '../helpers/s3.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const MiB = 1024 * 1024

let s3: TestBucket
let publicUrl: string
let client: S3Client
const dirs: string[] = []

before(async () => {
  s3 = await startS3('oip-seeds', 'oip/')
  publicUrl = `${s3.settings.endpoint}/oip-seeds`
  client = new S3Client({ region: 'us-east-1', endpoint: s3.settings.endpoint, forcePathStyle: true })
})
after(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  client?.destroy()
  await s3?.stop()
})

/**
 * A server on the bucket over `dir` (kept for a restart), its keys under `prefix` (each test its
 * own: nodes sharing keys must share a database); the background check runs every second.
 */
async function start (dir: string, prefix: string, env: Record<string, string> = {}): Promise<TestServer> {
  return await startTestServer({ ...s3.env, S3_PREFIX: prefix, ORPHAN_BLOB_GRACE: '2s', ...env }, { dir })
}

const newDir = async (): Promise<string> => {
  const dir = await tempDir()
  dirs.push(dir)
  return dir
}

const copyUrl = (prefix: string, mediaId: string): string => `${publicUrl}/${prefix}public/${mediaId}`
/** What anyone gets from the bucket's public URL: no credentials, as a browser or a CDN asks. */
const anonymous = async (url: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(url, { headers })

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return
    await sleep(100)
  }
  assert.fail(`never happened: ${what}`)
}

const copyIs = async (prefix: string, mediaId: string, status: number): Promise<void> => {
  await until(`the public copy of ${mediaId} answers ${status}`, async () => {
    const res = await anonymous(copyUrl(prefix, mediaId), { Range: 'bytes=0-0' })
    await res.arrayBuffer()
    return res.status === status
  })
}

/** The public .torrent as anyone gets it. */
const torrentOf = async (server: TestServer, mediaId: string): Promise<any> =>
  await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${mediaId}/torrent`)).arrayBuffer()))

const publicKeys = async (prefix: string): Promise<string[]> => (await s3.keys()).filter(k => k.startsWith(`${prefix}public/`))

test('a public torrent names the node and the bucket copy as web seeds, in the .torrent and the magnet; a BitTorrent client downloads it from the bucket alone', { timeout: 60_000 }, async () => {
  const prefix = 'seeds/'
  const server = await start(await newDir(), prefix, { S3_PUBLIC_URL: publicUrl })
  try {
    const bytes = randomBytesSeeded(2 * MiB + 4321, 501)
    const res = await upload(server.url, bytes, { access_level: 'public' }, 'clip.bin')
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const mediaId = sha256(bytes)
    const copy = copyUrl(prefix, mediaId)
    const torrent = await torrentOf(server, mediaId)
    assert.deepEqual(torrent.urlList, [`${server.url}/api/media/${mediaId}`, copy])
    assert.equal(torrent.infoHash, res.body.infoHash)
    const ws = new URLSearchParams(res.body.magnetURI.slice('magnet:?'.length)).getAll('ws')
    assert.deepEqual(ws, [`${server.url}/api/media/${mediaId}`, copy])
    await copyIs(prefix, mediaId, 206)
    const whole = Buffer.from(await (await anonymous(copy)).arrayBuffer())
    assert.ok(whole.equals(bytes), `the copy is the file, byte for byte (${whole.length} of ${bytes.length} bytes)`)
    assert.deepEqual(await publicKeys(prefix), [`${prefix}public/${mediaId}`])

    // No tracker and only the bucket as web seed: every byte comes from the bucket.
    const onlyBucket = toTorrentFile({ ...torrent, announce: [], urlList: [copy] })
    const leecher = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, tracker: false })
    try {
      const got: Torrent = leecher.add(onlyBucket, { path: await newDir() })
      await new Promise<void>((resolve, reject) => {
        got.once('done', () => resolve())
        got.once('error', reject)
      })
      assert.equal(got.infoHash, res.body.infoHash)
      const file = got.files[0] as unknown as { arrayBuffer (): Promise<ArrayBuffer> }
      assert.ok(Buffer.from(await file.arrayBuffer()).equals(bytes))
    } finally {
      await new Promise<void>(resolve => leecher.destroy(() => resolve()))
    }
  } finally {
    await server.close()
  }
})

test('made private, a file loses its public copy (the bytes stay, served to the owner by Range through the node); made public again, it gets it back', { timeout: 60_000 }, async () => {
  const prefix = 'access/'
  const server = await start(await newDir(), prefix, { S3_PUBLIC_URL: publicUrl })
  try {
    const token = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(MiB + 99, 502)
    const mediaId = sha256(bytes)
    assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'diary.txt', 'text/plain', token)).status, 201)
    await copyIs(prefix, mediaId, 206)
    const setAccess = async (accessLevel: string): Promise<void> => {
      const res = await fetch(`${server.url}/api/media/${mediaId}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ accessLevel }) })
      assert.equal(res.status, 200, await res.text())
    }
    await setAccess('private')
    // Gone by the time the change is answered, not later.
    const gone = await anonymous(copyUrl(prefix, mediaId))
    assert.equal(gone.status, 404)
    await gone.arrayBuffer()
    assert.deepEqual(await publicKeys(prefix), [])
    assert.ok((await s3.keys()).includes(`${prefix}${mediaId}/original`), 'the blob itself stays')
    assert.equal((await fetch(`${server.url}/api/media/${mediaId}`)).status, 404, 'anyone else: not found at the node either')
    // The owner's bytes come through the node, ranges passed through to the bucket.
    const ranged = await fetch(`${server.url}/api/media/${mediaId}`, { headers: { Range: 'bytes=1000-200999', ...bearer(token) } })
    assert.equal(ranged.status, 206)
    assert.equal(ranged.headers.get('content-range'), `bytes 1000-200999/${bytes.length}`)
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(1000, 201000)))
    // So does its private torrent's web seed (the capability URL its .torrent names, and no bucket).
    const info = await (await fetch(`${server.url}/api/media/${mediaId}/info`, { headers: bearer(token) })).json()
    const priv = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${mediaId}/torrent`, { headers: bearer(token) })).arrayBuffer())) as any
    assert.equal(priv.infoHash, info.infoHash)
    assert.equal(priv.urlList.length, 1)
    assert.ok(priv.urlList[0].startsWith(`${server.url}/api/media/${mediaId}/seed/`), priv.urlList[0])
    const seedRange = await fetch(priv.urlList[0], { headers: { Range: `bytes=${bytes.length - 10}-` } })
    assert.equal(seedRange.status, 206)
    assert.ok(Buffer.from(await seedRange.arrayBuffer()).equals(bytes.subarray(bytes.length - 10)))

    await setAccess('public')
    await copyIs(prefix, mediaId, 206)
  } finally {
    await server.close()
  }
})

test('a private upload puts nothing under public/; a copy left public by a crash is deleted by the background check', { timeout: 60_000 }, async () => {
  const prefix = 'stray/'
  const server = await start(await newDir(), prefix, { S3_PUBLIC_URL: publicUrl })
  try {
    const token = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(300_000, 503)
    const mediaId = sha256(bytes)
    assert.equal((await upload(server.url, bytes, { access_level: 'private' }, 'secret.bin', 'application/octet-stream', token)).status, 201)
    assert.deepEqual(await publicKeys(prefix), [])
    // What a node killed between a change to private and the copy's delete leaves.
    await client.send(new PutObjectCommand({ Bucket: 'oip-seeds', Key: `${prefix}public/${mediaId}`, Body: Buffer.from(bytes) }))
    await copyIs(prefix, mediaId, 404)
    assert.ok((await s3.keys()).includes(`${prefix}${mediaId}/original`))
  } finally {
    await server.close()
  }
})

test('files stored before S3_PUBLIC_URL was set get the bucket as a web seed on the next start, with the same infoHash, and their copies are made', { timeout: 60_000 }, async () => {
  const prefix = 'later/'
  const dir = await newDir()
  const bytes = randomBytesSeeded(MiB + 7, 504)
  const mediaId = sha256(bytes)
  const first = await start(dir, prefix)
  let before
  try {
    assert.equal((await upload(first.url, bytes, { access_level: 'public' }, 'old.bin')).status, 201)
    before = await torrentOf(first, mediaId)
    assert.deepEqual(before.urlList, [`${first.url}/api/media/${mediaId}`])
    assert.deepEqual(await publicKeys(prefix), [])
  } finally {
    await first.close()
  }
  const server = await start(dir, prefix, { S3_PUBLIC_URL: publicUrl })
  try {
    const now = await torrentOf(server, mediaId)
    assert.equal(now.infoHash, before.infoHash)
    assert.deepEqual(now.urlList, [`${server.url}/api/media/${mediaId}`, copyUrl(prefix, mediaId)])
    await copyIs(prefix, mediaId, 206)
    assert.ok(Buffer.from(await (await anonymous(copyUrl(prefix, mediaId))).arrayBuffer()).equals(bytes))
  } finally {
    await server.close()
  }
})
