/**
 * Resumable uploads on any node: two server processes on one PostgreSQL and one bucket (an S3
 * emulator on loopback), each tus PATCH sent to the other node by a proxy in front of them. The
 * upload (tus-js-client) completes byte-exact, each request goes on from the hashing state the
 * one before saved (no byte of the upload is read back from the bucket when PATCHes are whole
 * parts), and a node killed mid-PATCH leaves nothing under the file's id: the other node takes
 * the upload over once the dead one's hold lapses, and what an abandoned upload left is deleted
 * when it expires.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import * as tus from 'tus-js-client'
import { freePort } from '../../bench/serverProcess.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { startHttpRelay } from '../helpers/httpRelay.ts'
import { postgresUnavailable, sharedPostgres, type PostgresServer } from '../helpers/postgres.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { startS3, type TestBucket } from '../helpers/s3.ts'
import { randomBytesSeeded, tempDir } from '../helpers/server.ts'
import { createUpload, head, offsetOf, patch, published } from '../helpers/tus.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const MiB = 1024 * 1024
/** The blob store's part size: PATCHes of it end where parts end. */
const PART = 8 * MiB

/**
 * An HTTP proxy on loopback in front of the nodes, as a load balancer would be: PATCHes go to the
 * nodes in turn (the first to `nodes[0]`), anything else to the first. `patchedTo`: where each
 * PATCH went.
 */
async function alternatingProxy (nodes: () => string[]): Promise<{ url: string, patchedTo: string[], close: () => Promise<void> }> {
  const patchedTo: string[] = []
  const relay = await startHttpRelay(req => {
    const all = nodes()
    if (req.method !== 'PATCH') return all[0]!
    const target = all[patchedTo.length % all.length]!
    patchedTo.push(target)
    return target
  })
  return { ...relay, patchedTo }
}

/**
 * A counting HTTP proxy in front of the S3 emulator: the nodes reach the bucket through it, so
 * the test sees every GET of an object of a resumable upload (a read back of its bytes).
 */
async function countingS3Proxy (endpoint: string): Promise<{ url: string, uploadReads: () => number, close: () => Promise<void> }> {
  let reads = 0
  const relay = await startHttpRelay(req => {
    if (req.method === 'GET' && /\/uploads\/[0-9a-f]{32}\/\d{16}/.test(req.url!)) reads++
    return endpoint
  })
  return { ...relay, uploadReads: () => reads }
}

const unavailable = postgresUnavailable()

describe('tus uploads across two nodes on one PostgreSQL and one bucket', { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}`, timeout: 180_000 }, () => {
  let pg: PostgresServer
  let s3: TestBucket
  let s3Proxy: Awaited<ReturnType<typeof countingS3Proxy>>
  let proxy: Awaited<ReturnType<typeof alternatingProxy>>
  const dirs: string[] = []
  const nodes: ServerProcess[] = []
  /** Each node's own address (what they print is the proxy's, their PUBLIC_URL). */
  const direct: string[] = []

  before(async () => {
    pg = (await sharedPostgres())!
    s3 = await startS3('oip-nodes')
    s3Proxy = await countingS3Proxy(s3.settings.endpoint!)
    proxy = await alternatingProxy(() => direct)
    const env = {
      ...s3.env,
      // Both behind one address: a session signed in at one node is good at the other.
      PUBLIC_URL: proxy.url,
      S3_ENDPOINT: s3Proxy.url,
      DATABASE_URL: await pg.newDatabase(),
      JWT_SECRET: 'a-secret-both-nodes-share-0123456789abcdef',
      ALLOW_ANONYMOUS_UPLOADS: 'false',
      // Long enough for the dead node's hold to lapse first; the sweep of expired uploads runs every 7.5 s.
      UPLOAD_EXPIRY: '30s'
    }
    for (let i = 0; i < 2; i++) {
      const dir = await tempDir()
      dirs.push(dir)
      const port = await freePort()
      direct.push(`http://127.0.0.1:${port}`)
      nodes.push(await spawnServer(dir, { ...env, PORT: String(port) }))
    }
  })
  after(async () => {
    await proxy?.close()
    for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM')
    await Promise.all(nodes.map(n => n.exited))
    await s3Proxy?.close()
    await s3?.stop()
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true })
  })

  const uploadKeys = async (): Promise<string[]> => (await s3.keys()).filter(k => k.startsWith('uploads/'))

  test('tus-js-client\'s PATCHes alternate between the nodes; the file is published byte-exact, no upload byte read back, nothing left under uploads/', async () => {
    const token = await signIn(proxy.url, await newIdentity())
    const bytes = randomBytesSeeded(5 * PART + 12_345, 601)
    const readsBefore = s3Proxy.uploadReads()
    const uploadUrl = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(Buffer.from(bytes), {
        endpoint: `${proxy.url}/api/uploads`,
        chunkSize: PART,
        retryDelays: [],
        headers: bearer(token),
        metadata: { filename: 'across.bin', filetype: 'application/octet-stream', access_level: 'public' },
        onSuccess: () => resolve(upload.url!),
        onError: reject
      })
      upload.start()
    })
    assert.deepEqual(proxy.patchedTo, [0, 1, 2, 3, 4, 5].map(i => direct[i % 2]), 'six PATCHes, each on the other node')
    assert.equal(s3Proxy.uploadReads() - readsBefore, 0, 'no request read the upload\'s bytes back: each went on from the saved state')
    const { result } = await (await fetch(uploadUrl, { headers: bearer(token) })).json()
    assert.equal(result.mediaId, sha256(bytes))
    // From each node: the one that published it and the other.
    for (const node of direct) {
      const got = await fetch(`${node}/api/media/${result.mediaId}`)
      assert.equal(got.status, 200)
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes), `${node} sends the file byte for byte`)
    }
    assert.deepEqual(await uploadKeys(), [])
  })

  test('PATCHes that end inside a part (3 MiB, 1 byte, 5 MiB) alternate too and publish byte-exact: a node goes on from the other\'s last, smaller object', async () => {
    const token = await signIn(proxy.url, await newIdentity())
    const bytes = randomBytesSeeded(3 * PART + 777, 602)
    const { res, url } = await createUpload(proxy.url, token, bytes.length, { filename: 'odd.bin', access_level: 'public' })
    assert.equal(res.status, 201)
    const patched = proxy.patchedTo.length
    for (const size of [3 * MiB, 1, 3 * MiB, 5 * MiB, 8 * MiB + 3]) {
      const offset = await offsetOf(url, token)
      const sent = await patch(url, token, offset, bytes.subarray(offset, offset + size))
      assert.equal(sent.status, 204, await sent.text())
    }
    const offset = await offsetOf(url, token)
    const result = await published(url, token, await patch(url, token, offset, bytes.subarray(offset)))
    assert.equal(result.mediaId, sha256(bytes))
    assert.deepEqual(new Set(proxy.patchedTo.slice(patched)), new Set(direct))
    const got = await fetch(`${direct[1]}/api/media/${result.mediaId}`)
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes))
    assert.deepEqual(await uploadKeys(), [])
  })

  test('while a PATCH runs on one node, a PATCH or DELETE of the upload on the other is refused (423 upload_busy); once it ends, the other goes on from its offset', async () => {
    const [aUrl, bUrl] = direct as [string, string]
    const token = await signIn(proxy.url, await newIdentity())
    const bytes = randomBytesSeeded(2 * PART + 5, 605)
    const { url } = await createUpload(aUrl, token, bytes.length, { filename: 'busy.bin', access_level: 'public' })
    const id = url.split('/').pop()!
    const onB = new URL(new URL(url).pathname, bUrl).href
    const slow = http.request(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', ...bearer(token), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0', 'Content-Length': String(bytes.length) } })
    const slowEnded = new Promise<void>(resolve => { slow.on('close', () => resolve()); slow.on('error', () => {}) })
    slow.write(Buffer.from(bytes.subarray(0, PART + MiB)))
    // Its first part is in the bucket: node A holds the upload and is reading the body.
    const first = `uploads/${id}/${'0'.repeat(16)}`
    for (let i = 0; (await s3.size(first)) !== PART; i++) {
      assert.ok(i < 300, 'the slow PATCH\'s first part reached the bucket')
      await sleep(50)
    }
    const refused = await patch(onB, token, 0, bytes.subarray(0, 1000))
    assert.equal(refused.status, 423)
    assert.equal((await refused.json()).error.code, 'upload_busy')
    const notEnded = await fetch(onB, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0', ...bearer(token) } })
    assert.equal(notEnded.status, 423)
    await notEnded.arrayBuffer()

    slow.destroy()
    await slowEnded
    // Node A acknowledges what it took when the body broke off, and lets go.
    let offset = 0
    for (let i = 0; offset === 0; i++) {
      assert.ok(i < 100, 'node A acknowledged the bytes it had')
      await sleep(100)
      offset = await offsetOf(onB, token)
    }
    assert.ok(offset >= PART && offset <= PART + MiB, String(offset))
    const result = await published(onB, token, await patch(onB, token, offset, bytes.subarray(offset)))
    assert.equal(result.mediaId, sha256(bytes))
    assert.ok(Buffer.from(await (await fetch(`${aUrl}/api/media/${result.mediaId}`)).arrayBuffer()).equals(bytes))
  })

  test('a node killed mid-PATCH: nothing is under the file\'s id, the other node takes the upload over and publishes it byte-exact; an abandoned upload\'s objects go when it expires', async () => {
    const a = nodes[0]!
    const [aUrl, bUrl] = direct as [string, string]
    const token = await signIn(proxy.url, await newIdentity())
    const bytes = randomBytesSeeded(4 * PART + 99, 603)
    const mediaId = sha256(bytes)
    const abandoned = randomBytesSeeded(3 * PART, 604)
    const { url: kept } = await createUpload(aUrl, token, bytes.length, { filename: 'kept.bin', access_level: 'public' })
    const { url: left } = await createUpload(aUrl, token, abandoned.length, { filename: 'left.bin', access_level: 'public' })
    assert.equal((await patch(kept, token, 0, bytes.subarray(0, PART))).status, 204)
    assert.equal((await patch(left, token, 0, abandoned.subarray(0, PART))).status, 204)
    const keptId = kept.split('/').pop()!
    const leftId = left.split('/').pop()!

    // The second PATCH of each goes on while A dies: a part of it is in the bucket, unacknowledged.
    const cut = ([[kept, bytes], [left, abandoned]] as const).map(([url, file]) => {
      const req = http.request(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', ...bearer(token), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(PART), 'Content-Length': String(2 * PART) } })
      req.on('error', () => {})
      req.write(Buffer.from(file.subarray(PART, 2 * PART + PART / 2)))
      return req
    })
    for (const id of [keptId, leftId]) {
      for (let i = 0; !(await uploadKeys()).includes(`uploads/${id}/${String(PART).padStart(16, '0')}`); i++) {
        assert.ok(i < 300, 'the PATCH\'s first part reached the bucket')
        await sleep(50)
      }
    }
    a.child.kill('SIGKILL')
    assert.equal(await a.exited, null, 'killed by a signal')
    for (const req of cut) req.destroy()

    assert.equal((await fetch(`${bUrl}/api/media/${mediaId}`)).status, 404, 'nothing under the file\'s id')
    assert.deepEqual((await s3.keys()).filter(k => k.includes(mediaId)), [])
    const onB = (url: string): string => new URL(new URL(url).pathname, bUrl).href
    const resumeAt = onB(kept)
    const offset = Number((await head(resumeAt, token)).headers.get('upload-offset'))
    assert.equal(offset, PART, 'the acknowledged offset, not the bytes past it')

    // Node B: refused while A's hold lasts (HOLD_MS), then the upload is B's.
    let res: Response
    for (let i = 0; ; i++) {
      res = await patch(resumeAt, token, offset, bytes.subarray(offset))
      if (res.status !== 423) break
      await res.arrayBuffer()
      assert.ok(i < 60, 'the dead node\'s hold lapsed')
      await sleep(500)
    }
    const result = await published(resumeAt, token, res)
    assert.equal(result.mediaId, mediaId)
    const got = await fetch(`${bUrl}/api/media/${mediaId}`)
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes))
    assert.ok(!(await uploadKeys()).some(k => k.includes(keptId)), 'the finished upload\'s objects are gone')

    // Nobody comes back for the other one: once it expires, a sweep deletes its row and every object it had.
    assert.ok((await uploadKeys()).some(k => k.includes(leftId)))
    for (let i = 0; (await uploadKeys()).some(k => k.includes(leftId)); i++) {
      assert.ok(i < 150, 'the abandoned upload\'s objects were deleted')
      await sleep(300)
    }
    assert.equal((await head(onB(left), token)).status, 404)
    assert.deepEqual((await s3.keys()).filter(k => k.startsWith('staging/')), [])
  })
})
