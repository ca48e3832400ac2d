/**
 * Request time limits: a slow upload that keeps sending is never cut (Node's 5-minute total
 * limit is off), one that stops sending for REQUEST_IDLE_TIMEOUT is (here 1 s).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '../../server/logger.ts'
import { limitRequestTimes } from '../../server/ops/requestTimeouts.ts'
import type { PendingBlob } from '../../server/storage/blobStore.ts'
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'
import { FsUploadStore } from '../../server/storage/fsUploadStore.ts'
import type { Appender } from '../../server/storage/uploadStore.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { randomBytesSeeded, startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { createUpload, offsetOf, patch, published, sendFrom } from '../helpers/tus.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
/** Far longer than the 1 s idle timeout: a request still open then was not cut. */
const DEADLINE_MS = 20_000

interface Outcome { status?: number, body?: string, closed: boolean }

/**
 * Send a request whose body goes out in `pieces` (its Content-Length is the whole body's), each
 * `gapMs` after the last, then stop: with `stallAfter`, only that many pieces go and the client
 * waits, connection open, until the server answers or closes it (or the deadline passes).
 */
function send (method: string, url: string, headers: http.OutgoingHttpHeaders, body: Uint8Array, opts: { pieces: number, gapMs: number, stallAfter?: number }): Promise<Outcome> {
  return new Promise(resolve => {
    const req = http.request(url, { method, agent: false, headers: { ...headers, 'Content-Length': body.length } })
    const deadline = setTimeout(() => { resolve({ closed: false }); req.destroy() }, DEADLINE_MS)
    const done = (outcome: Outcome): void => { clearTimeout(deadline); resolve(outcome) }
    req.on('response', res => {
      let text = ''
      res.on('data', chunk => { text += chunk })
      res.on('end', () => done({ status: res.statusCode, body: text, closed: true }))
      res.on('error', () => done({ status: res.statusCode, body: text, closed: true }))
    })
    req.on('error', () => done({ closed: true }))
    const size = Math.ceil(body.length / opts.pieces)
    void (async () => {
      for (let i = 0; i < (opts.stallAfter ?? opts.pieces); i++) {
        if (req.destroyed) return
        req.write(body.subarray(i * size, (i + 1) * size))
        await sleep(opts.gapMs)
      }
      if (opts.stallAfter === undefined) req.end()
    })()
  })
}

describe('request time limits (REQUEST_IDLE_TIMEOUT=1)', () => {
  let server: TestServer
  let token: string
  before(async () => {
    server = await startTestServer({ REQUEST_IDLE_TIMEOUT: '1' })
    token = await signIn(server.url, await newIdentity())
  })
  after(async () => { await server.destroy() })

  const tusPatch = (url: string, offset: number): http.OutgoingHttpHeaders => ({
    'Tus-Resumable': '1.0.0', ...bearer(token), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset)
  })
  const multipart = (): http.OutgoingHttpHeaders => ({ 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, ...bearer(token) })

  /** Media folders and plain uploads being staged. */
  async function onDisk (): Promise<{ media: string[], incoming: string[] }> {
    const media = (await fs.readdir(server.config.mediaDir)).filter(n => /^[0-9a-f]{64}$/.test(n))
    return { media, incoming: await fs.readdir(path.join(server.config.mediaDir, '.incoming')) }
  }

  test('no total limit: bodies that trickle in for 3 s, never idle for 1 s, are taken whole', async () => {
    // Node's own limit on a whole request (300 s by default) is off; headers still have one.
    assert.equal(server.http.requestTimeout, 0)
    assert.equal(server.http.headersTimeout, 60_000)
    assert.equal(server.http.timeout, 1000)

    const bytes = randomBytesSeeded(160_000, 101)
    const { url } = await createUpload(server.url, token, bytes.length)
    const tus = await send('PATCH', url, tusPatch(url, 0), bytes, { pieces: 16, gapMs: 200 })
    assert.equal(tus.status, 204)
    const result = await published(url, token, await patch(url, token, bytes.length, new Uint8Array(0)))
    assert.equal(result.mediaId, sha256(bytes))

    const file = randomBytesSeeded(160_000, 102)
    const form = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: file, filename: 'slow.bin' } }])
    const plain = await send('POST', `${server.url}/api/media/upload`, multipart(), form, { pieces: 16, gapMs: 200 })
    assert.equal(plain.status, 201, plain.body)
    assert.equal(JSON.parse(plain.body!).mediaId, sha256(file))
  })

  test('a resumable upload whose body stops is cut after the idle timeout and keeps the bytes that came', async () => {
    const bytes = randomBytesSeeded(400_000, 103)
    const { url } = await createUpload(server.url, token, bytes.length)
    const stalled = await send('PATCH', url, tusPatch(url, 0), bytes, { pieces: 4, gapMs: 50, stallAfter: 2 })
    assert.deepEqual(stalled, { closed: true }, 'the server closed the connection without an answer')
    // The server finishes the cut request (keeping its bytes) just after: until then a PATCH gets 423.
    let status = 0
    for (let i = 0; i < 50 && status !== 204; i++) {
      status = (await patch(url, token, await offsetOf(url, token), new Uint8Array(0))).status
      if (status !== 204) await sleep(100)
    }
    assert.equal(await offsetOf(url, token), 200_000)
    const result = await published(url, token, await sendFrom(url, token, bytes, 200_000))
    assert.equal(result.mediaId, sha256(bytes))
  })

  test('a plain upload whose body stops is cut after the idle timeout and stores nothing', async () => {
    const before = await onDisk()
    const file = randomBytesSeeded(400_000, 104)
    const form = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: file, filename: 'stalled.bin' } }])
    const stalled = await send('POST', `${server.url}/api/media/upload`, multipart(), form, { pieces: 4, gapMs: 50, stallAfter: 2 })
    assert.deepEqual(stalled, { closed: true }, 'the server closed the connection without an answer')
    let state = await onDisk()
    for (let i = 0; i < 100 && state.incoming.length > 0; i++) { await sleep(50); state = await onDisk() }
    assert.deepEqual(state, { media: before.media, incoming: [] })
  })

  test('a connection whose request headers stop coming is closed after the idle timeout', async () => {
    const closed = await new Promise<boolean>(resolve => {
      const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'))
      const deadline = setTimeout(() => { resolve(false); socket.destroy() }, DEADLINE_MS)
      socket.on('error', () => {})
      socket.on('close', () => { clearTimeout(deadline); resolve(true) })
    })
    assert.ok(closed, 'the server closed the connection')
  })
})

describe('request time limits: a wait that is the server\'s', () => {
  test('a PATCH the server is slow to start reading, then slow to publish, is not cut by the idle timeout', async () => {
    // 2.5 s before the body is read (its client has sent it and waits), 2.5 s after it is all in.
    class SlowToRead extends FsUploadStore {
      override async append (id: string): Promise<Appender> {
        await sleep(2500)
        return await super.append(id)
      }
    }
    class SlowToPublish extends FsBlobStore {
      override async adopt (file: string): Promise<PendingBlob> {
        await sleep(2500)
        return await super.adopt(file)
      }
    }
    const dir = await tempDir()
    const media = path.join(dir, 'media')
    const server = await startTestServer({ REQUEST_IDLE_TIMEOUT: '1' }, { dir, uploadStore: new SlowToRead(media), store: new SlowToPublish(media) })
    try {
      const token = await signIn(server.url, await newIdentity())
      const bytes = randomBytesSeeded(200_000, 105)
      const { url } = await createUpload(server.url, token, bytes.length)
      const result = await published(url, token, await patch(url, token, 0, bytes))
      assert.equal(result.mediaId, sha256(bytes))
    } finally { await server.destroy() }
  })
})

test('a request whose body is all in is not cut while the server works on the answer, however it read the body', async () => {
  // Read with 'data' listeners (as Hono's c.req.json() does), so the stream stays flowing after its end.
  const http1 = http.createServer((req, res) => {
    req.on('data', () => {})
    req.on('end', () => setTimeout(() => res.end('done'), 2500))
  })
  limitRequestTimes(http1, 1000, silentLogger())
  await new Promise<void>(resolve => http1.listen(0, '127.0.0.1', resolve))
  try {
    const res = await fetch(`http://127.0.0.1:${(http1.address() as AddressInfo).port}/`, { method: 'POST', body: 'x'.repeat(1000) })
    assert.equal(await res.text(), 'done')
  } finally {
    http1.closeAllConnections()
    await new Promise(resolve => http1.close(resolve))
  }
})
