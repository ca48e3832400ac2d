/**
 * The deployment in docs/deploy.md, for real: Debian's nginx runs docs/nginx/oip-media-seeder.conf
 * (test/helpers/nginx.ts) with a self-signed certificate in front of a server node that trusts
 * it (TRUST_PROXY=loopback) and names it as PUBLIC_URL. Clients call over HTTPS, each test from
 * a loopback address of its own (127.0.0.x), so the node's per-address limits tell them apart only
 * if nginx tells the node who called. The tests that wait out nginx's default 60 s timeouts run
 * side by side with the others.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import bencode from 'bencode'
import WebSocket from 'ws'
import { freePort } from '../../bench/serverProcess.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { nginxUnavailable, startNginx, type Nginx, type RequestOptions } from '../helpers/nginx.ts'
import { randomBytesSeeded, startTestServer, type TestServer } from '../helpers/server.ts'
import { metadata } from '../helpers/tus.ts'

const MiB = 1024 * 1024
/** Longer than nginx's default client_body_timeout, proxy_send_timeout and proxy_read_timeout (60 s). */
const PAST_NGINX_DEFAULTS_MS = 65_000
/** Sign-in challenges per address and minute at the node. */
const CHALLENGES = 3
const TUS = { 'Tus-Resumable': '1.0.0' }

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
const peerId = (n: number): string => '2d4e47303030302d' + String(n).padStart(2, '0').repeat(12)

/** Poll `check` until it gives a value (not false or undefined); fail with `why` after `timeoutMs`. */
async function until<T> (check: () => Promise<T | false | undefined>, why: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== false && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(why)
    await sleep(50)
  }
}

const unavailable = nginxUnavailable()

describe('nginx in front of a node, as docs/deploy.md sets it up', { skip: unavailable && `nginx tests skipped: ${unavailable}` }, () => {
  let proxy: Nginx
  let node: TestServer
  /** The node itself, past nginx. */
  let nodeUrl: string
  let token: string
  /** A stored public file's infoHash, for announces. */
  let known: string

  const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })

  /** A multipart upload through the proxy; its answer. */
  async function uploadThrough (bytes: Uint8Array, from?: string): Promise<Response> {
    const body = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes, filename: 'file.bin' } }])
    return await proxy.fetch('/api/media/upload', { method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` }, body, localAddress: from })
  }

  /** A tus upload created through the proxy; its path. */
  async function createUpload (length: number): Promise<string> {
    const res = await proxy.fetch('/api/uploads', { method: 'POST', headers: { ...TUS, ...auth(), 'Upload-Length': String(length), 'Upload-Metadata': metadata({ filename: 'tus.bin', access_level: 'public' }) } })
    assert.equal(res.status, 201, await res.text())
    return res.headers.get('location')!
  }

  /** A PATCH whose body the test writes itself. */
  function openPatch (uploadPath: string, offset: number, length: number): ReturnType<Nginx['request']> {
    return proxy.request(uploadPath, {
      method: 'PATCH',
      headers: { ...TUS, ...auth(), 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'Content-Length': String(length) }
    })
  }

  const answer = async (req: ReturnType<Nginx['request']>): Promise<{ status: number, headers: Record<string, unknown> }> =>
    await new Promise((resolve, reject) => {
      req.on('error', reject)
      req.on('response', res => { res.resume(); res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers })) })
    })

  async function downloaded (mediaId: string, opts: RequestOptions = {}): Promise<Buffer> {
    const res = await proxy.fetch(`/api/media/${mediaId}`, opts)
    assert.equal(res.status, 200)
    return Buffer.from(await res.arrayBuffer())
  }

  before(async () => {
    const nodePort = await freePort()
    proxy = await startNginx([`127.0.0.1:${nodePort}`])
    node = await startTestServer({
      PORT: String(nodePort),
      PUBLIC_URL: proxy.url,
      TRUST_PROXY: 'loopback',
      CHALLENGES_PER_MINUTE: String(CHALLENGES),
      MAX_BYTE_RESPONSES_PER_ADDRESS: '2',
      // An operator who lets uploads pause for longer than nginx's defaults.
      REQUEST_IDLE_TIMEOUT: '2m',
      SEND_TIMEOUT_SECONDS: '2'
    })
    nodeUrl = `http://127.0.0.1:${nodePort}`
    token = await signIn(proxy.url, await newIdentity(), proxy.fetch)
    known = (await (await uploadThrough(randomBytesSeeded(50_000, 1))).json()).infoHash
  })
  after(async () => {
    await node?.destroy()
    await proxy?.stop()
  })

  describe('side by side', { concurrency: true }, () => {
    test('an upload whose body goes quiet for longer than nginx\'s default timeouts is not cut', async () => {
      const bytes = randomBytesSeeded(2 * MiB, 2)
      const uploadPath = await createUpload(bytes.length)
      const req = openPatch(uploadPath, 0, bytes.length)
      const answered = answer(req)
      req.write(bytes.subarray(0, MiB))
      await sleep(PAST_NGINX_DEFAULTS_MS)
      req.end(bytes.subarray(MiB))
      const res = await answered
      assert.equal(res.status, 204, 'the PATCH that paused got the node\'s answer, not nginx\'s 408 or 504')
      assert.equal(res.headers['oip-media-id'], sha256(bytes))
      assert.deepEqual(await downloaded(sha256(bytes)), Buffer.from(bytes))
    })

    test('the WebSocket tracker answers through nginx, and a quiet tracker connection stays open past nginx\'s default timeouts', async () => {
      const ws = new WebSocket(`${proxy.url.replace('https', 'wss')}/announce`, { ca: proxy.certificate.pem, localAddress: '127.0.0.10' })
      let closed = false
      ws.on('close', () => { closed = true })
      const answers: Array<Record<string, unknown>> = []
      ws.on('message', data => answers.push(JSON.parse(String(data))))
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      const announce = (): void => ws.send(JSON.stringify({ action: 'announce', info_hash: binary(known), peer_id: binary(peerId(10)), numwant: 0, left: 0, event: 'started', offers: [] }))
      announce()
      const first = await until(async () => answers[0], 'no answer to a WebSocket announce through nginx')
      assert.equal(first['failure reason'], undefined)
      assert.equal(first.action, 'announce')
      assert.equal(typeof first.interval, 'number')
      await sleep(PAST_NGINX_DEFAULTS_MS)
      assert.equal(closed, false, 'nginx closed a tracker WebSocket that was quiet for 65 s')
      announce()
      const second = await until(async () => answers[1], 'no answer to the second announce on the same WebSocket')
      assert.equal(second.action, 'announce')
      ws.close()
    })

    test('plain HTTP is redirected to HTTPS, path and query kept', async () => {
      const res = await fetch(`${proxy.httpUrl}/api/media?limit=5`, { redirect: 'manual' })
      assert.equal(res.status, 301)
      assert.equal(res.headers.get('location'), 'https://127.0.0.1/api/media?limit=5')
    })

    test('pages keep the app\'s own security headers, each once, and gain HSTS', async () => {
      const direct = await fetch(`${nodeUrl}/`)
      const proxied = await proxy.fetch('/', { localAddress: '127.0.0.11' })
      for (const name of ['content-security-policy', 'x-frame-options', 'referrer-policy', 'x-content-type-options']) {
        assert.ok(direct.headers.get(name), name)
        assert.equal(proxied.headers.get(name), direct.headers.get(name), name)
      }
      assert.equal(proxied.headers.get('strict-transport-security'), 'max-age=31536000')
    })

    test('a multipart upload far over nginx\'s default body limit goes through; its bytes come back whole and in byte-exact ranges', async () => {
      const from = '127.0.0.12'
      const bytes = Buffer.from(randomBytesSeeded(24 * MiB, 3))
      const res = await uploadThrough(bytes, from)
      assert.equal(res.status, 201, await res.clone().text())
      const { mediaId } = await res.json()
      assert.equal(mediaId, sha256(bytes))
      assert.deepEqual(await downloaded(mediaId, { localAddress: from }), bytes)
      const size = bytes.length
      for (const [range, start, end] of [['bytes=1000-1999', 1000, 1999], ['bytes=-100', size - 100, size - 1], [`bytes=${size - 5 * MiB}-`, size - 5 * MiB, size - 1]] as const) {
        const part = await proxy.fetch(`/api/media/${mediaId}`, { headers: { Range: range }, localAddress: from })
        assert.equal(part.status, 206, range)
        assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range)
        assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(start, end + 1), range)
      }
      const outside = await proxy.fetch(`/api/media/${mediaId}`, { headers: { Range: `bytes=${size}-` }, localAddress: from })
      assert.equal(outside.status, 416)
      const cached = await proxy.fetch(`/api/media/${mediaId}`, { headers: { 'If-None-Match': `"${mediaId}"` }, localAddress: from })
      assert.equal(cached.status, 304)
      // The media bytes' own policy, as the node sends it.
      assert.equal((await proxy.fetch(`/api/media/${mediaId}`, { method: 'HEAD', localAddress: from })).headers.get('content-security-policy'), "default-src 'none'; sandbox")
    })

    test('tus PATCHes far larger than nginx\'s buffers stream to the node: a PATCH cut midway keeps what arrived, and the upload resumes from there', async () => {
      const bytes = Buffer.from(randomBytesSeeded(24 * MiB, 4))
      const uploadPath = await createUpload(bytes.length)
      const data = path.join(node.config.mediaDir, '.uploads', path.basename(uploadPath), 'data')
      const cut = openPatch(uploadPath, 0, 16 * MiB)
      cut.on('error', () => {})
      cut.write(bytes.subarray(0, 8 * MiB))
      await until(async () => ((await fs.stat(data).catch(() => undefined))?.size ?? 0) >= 4 * MiB,
        'the node got none of the PATCH while its body was still coming: nginx holds request bodies (proxy_request_buffering off?)')
      cut.destroy()
      const offset = await until(async () => {
        const res = await proxy.fetch(uploadPath, { method: 'HEAD', headers: { ...TUS, ...auth() } })
        return Number(res.headers.get('upload-offset')) || undefined
      }, 'the node kept nothing of the cut PATCH')
      assert.ok(offset >= 4 * MiB && offset <= 8 * MiB, `kept ${offset} bytes of the 8 MiB sent`)
      // The node lets go of the upload a moment after it noted the offset.
      const rest = await until(async () => {
        const req = openPatch(uploadPath, offset, bytes.length - offset)
        req.end(bytes.subarray(offset))
        const res = await answer(req)
        return res.status !== 423 && res
      }, 'the upload stayed busy after its PATCH was cut')
      assert.equal(rest.status, 204)
      assert.equal(rest.headers['oip-media-id'], sha256(bytes))
      assert.deepEqual(await downloaded(sha256(bytes), { localAddress: '127.0.0.13' }), bytes)
    })

    test('the node counts each caller by its own address, whatever X-Forwarded-For the caller sends', async () => {
      const challenge = async (from: string, headers: Record<string, string> = {}): Promise<Response> =>
        await proxy.fetch('/api/auth/challenge', { method: 'POST', headers, localAddress: from })
      for (let i = 0; i < CHALLENGES; i++) assert.equal((await challenge('127.0.0.20')).status, 200)
      const refused = await challenge('127.0.0.20')
      assert.equal(refused.status, 429)
      assert.equal((await refused.json()).error.code, 'rate_limited')
      assert.equal((await challenge('127.0.0.20', { 'X-Forwarded-For': '10.9.9.9' })).status, 429, 'a forged X-Forwarded-For made the caller someone else')
      assert.equal((await challenge('127.0.0.21')).status, 200, 'another caller shares the first one\'s limit: the node sees nginx, not the callers')
    })

    test('the tracker lists an HTTP peer at its caller\'s address, not nginx\'s', async () => {
      const announce = async (from: string, id: string, port: number): Promise<Record<string, unknown>> => {
        const q = `info_hash=${percentBytes(known)}&peer_id=${percentBytes(id)}&port=${port}&uploaded=0&downloaded=0&left=1000&compact=1&numwant=50&event=started`
        const res = await proxy.fetch(`/announce?${q}`, { localAddress: from })
        assert.equal(res.status, 200)
        return bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>
      }
      await announce('127.0.0.30', peerId(30), 51413)
      const { peers } = await announce('127.0.0.31', peerId(31), 51414)
      const listed = []
      for (let i = 0; i + 6 <= (peers as Uint8Array).length; i += 6) {
        const p = Buffer.from((peers as Uint8Array).subarray(i, i + 6))
        listed.push(`${p.subarray(0, 4).join('.')}:${p.readUInt16BE(4)}`)
      }
      assert.ok(listed.includes('127.0.0.30:51413'), `peers: ${listed.join(', ')}`)
    })
  })

  test('media bytes are not buffered by nginx: stalled downloads hold their caller\'s slots at the node, which cuts them', async () => {
    const bytes = Buffer.from(randomBytesSeeded(48 * MiB, 5))
    const { mediaId } = await (await uploadThrough(bytes)).json()
    const from = '127.0.0.40'
    // Larger than every socket buffer on the way, so the node cannot send it all to a reader that reads nothing.
    const stalled = await Promise.all([1, 2].map(async () => await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = proxy.request(`/api/media/${mediaId}`, { localAddress: from })
      req.on('error', reject)
      req.on('response', resolve)
      req.end()
    })))
    for (const res of stalled) assert.equal(res.statusCode, 200)
    const third = await proxy.fetch(`/api/media/${mediaId}`, { headers: { Range: 'bytes=0-0' }, localAddress: from })
    assert.equal(third.status, 503)
    assert.equal((await third.json()).error.code, 'too_many_downloads')
    assert.equal((await proxy.fetch(`/api/media/${mediaId}`, { headers: { Range: 'bytes=0-0' }, localAddress: '127.0.0.41' })).status, 206)
    // SEND_TIMEOUT_SECONDS later the node cuts both; what the readers then get stops short.
    const metrics = async (): Promise<string> => await (await fetch(`${nodeUrl}/metrics`, { headers: { Authorization: `Bearer ${node.metricsToken}` } })).text()
    await until(async () => /^oip_byte_responses_in_flight 0$/m.test(await metrics()), 'the node never cut the stalled downloads')
    for (const res of stalled) {
      let received = 0
      await new Promise<void>(resolve => {
        res.on('data', (c: Buffer) => { received += c.length })
        res.on('end', resolve)
        res.on('error', () => resolve())
        res.on('close', resolve)
      })
      assert.ok(received < bytes.length, `a stalled reader got all ${received} bytes: nginx read the file for it`)
    }
  })
})
