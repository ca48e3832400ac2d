import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { spawnServer } from '../helpers/process.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Start an upload and send only `first` bytes of it; `finish` sends the rest and gives the answer. */
function partialUpload (baseUrl: string, bytes: Uint8Array, first: number): { finish: () => Promise<{ status: number, body: any }>, sent: Promise<void> } {
  const body = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes, filename: 'slow.bin' } }])
  let answer!: Promise<{ status: number, body: any }>
  const req = http.request(`${baseUrl}/api/media/upload`, { method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length } })
  answer = new Promise((resolve, reject) => {
    req.on('response', res => {
      let text = ''
      res.on('data', c => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }))
    })
    req.on('error', reject)
  })
  answer.catch(() => {})
  const sent = new Promise<void>(resolve => req.write(body.subarray(0, first), () => resolve()))
  return { sent, finish: async () => { req.end(body.subarray(first)); return await answer } }
}

const metricValue = (text: string, line: RegExp): number => Number(text.split('\n').find(l => line.test(l))?.split(' ').pop() ?? 0)

test('a fresh install starts without a single warning', async () => {
  const { Writable } = await import('node:stream')
  const { createLogger } = await import('../../server/logger.ts')
  const lines: Array<{ level: number, msg: string }> = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const server = await startTestServer({}, { log: createLogger('info', sink) })
  try {
    assert.ok(lines.length > 0, 'the start is logged')
    assert.deepEqual(lines.filter(l => l.level >= 40).map(l => l.msg), [])
  } finally {
    await server.destroy()
  }
})

describe('health, readiness and metrics', () => {
  let server: TestServer
  after(async () => { await server?.destroy() })

  test('/healthz is alive; /readyz is ready and lists its checks', async () => {
    server = await startTestServer()
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { ok: true })
    const res = await fetch(`${server.url}/readyz`)
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.equal(body.ready, true)
    assert.deepEqual(Object.keys(body.checks).sort(), ['blobStore', 'database', 'disk', 'seeder', 'tracker'])
  })

  test('/readyz writes nothing to the disk, however often anyone calls it', async () => {
    const incoming = path.join(server.config.mediaDir, '.incoming')
    const changes: string[] = []
    const watcher = (await import('node:fs')).watch(incoming, (_event, name) => { changes.push(String(name)) })
    try {
      for (let i = 0; i < 10; i++) assert.equal((await fetch(`${server.url}/readyz`)).status, 200)
      // A write would have been seen by now: the watcher's events arrive before the next turn of I/O.
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.deepEqual(changes, [])
    } finally {
      watcher.close()
    }
  })

  test('/api/seeder/stats counts public torrents only, for anyone but an admin', async () => {
    const { newIdentity, signIn } = await import('../helpers/auth.ts')
    const token = await signIn(server.url, await newIdentity())
    // Everything in the anonymous answer that could count a private torrent.
    const visible = async (): Promise<unknown> => {
      const stats = await (await fetch(`${server.url}/api/seeder/stats`)).json()
      return { ...stats, trackers: stats.trackers.map((t: { url: string, announces: number, connected?: boolean }) => [t.url, t.announces, t.connected]), topFiles: undefined }
    }
    const announces = (): number => server.seeder.trackerStates('all').reduce((n, t) => n + t.announces, 0)
    const before = await visible()
    const announcedBefore = announces()
    assert.equal((await upload(server.url, randomBytesSeeded(30_000, 611), { access_level: 'private' }, 'mine.bin', undefined, token)).status, 201)
    assert.equal((await server.seeder.getStats('all')).seedingCount, (await server.seeder.getStats('public')).seedingCount + 1, 'the private torrent is seeded')
    for (let i = 0; i < 200 && announces() === announcedBefore; i++) await new Promise(resolve => setTimeout(resolve, 25))
    assert.ok(announces() > announcedBefore, 'the private torrent has announced')
    assert.deepEqual(await visible(), before)
  })

  test('/metrics answers only the scraper with the metrics token', async () => {
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: server.metricsToken }] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/metrics`, { headers })
      assert.equal(res.status, 401)
      assert.equal((await res.json()).error.code, 'metrics_token_required')
    }
    const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })
    assert.equal(res.status, 200)
    assert.match(await res.text(), /oip_seeding_files/)
    assert.equal((await fs.stat(path.join(server.config.dataDir, 'metrics-token'))).mode & 0o777, 0o600, 'generated per install, readable by its owner only')
  })

  test('/readyz answers 503 with the reason while the media folder cannot be written', async () => {
    const incoming = path.join(server.config.mediaDir, '.incoming')
    await fs.rm(incoming, { recursive: true })
    await fs.writeFile(incoming, 'not a folder')
    try {
      const res = await fetch(`${server.url}/readyz`)
      assert.equal(res.status, 503)
      const body = await res.json()
      assert.equal(body.ready, false)
      assert.equal(body.checks.blobStore.ok, false)
      assert.match(body.checks.blobStore.reason, /ENOTDIR|not a directory/)
      assert.ok(!JSON.stringify(body).includes(server.dir), 'no absolute path in an anonymous answer')
    } finally {
      await fs.rm(incoming)
      await fs.mkdir(incoming)
    }
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200)
  })

  test('metrics count requests by route pattern, bytes in and bytes out', async () => {
    const before = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()
    const bytes = randomBytesSeeded(123_456, 121)
    const up = await upload(server.url, bytes)
    await (await fetch(up.body.httpUrl)).arrayBuffer()
    await (await fetch(up.body.httpUrl, { headers: { Range: 'bytes=0-99', 'User-Agent': 'WebTorrent/3.0.0 (https://webtorrent.io)' } })).arrayBuffer()
    const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/)
    const text = await res.text()
    assert.equal(metricValue(text, /^oip_ingested_bytes_total /) - metricValue(before, /^oip_ingested_bytes_total /), bytes.length)
    assert.equal(metricValue(text, /^oip_served_bytes_total\{transport="http"\}/) - metricValue(before, /^oip_served_bytes_total\{transport="http"\}/), bytes.length)
    assert.equal(metricValue(text, /^oip_served_bytes_total\{transport="webseed"\}/) - metricValue(before, /^oip_served_bytes_total\{transport="webseed"\}/), 100)
    assert.ok(metricValue(text, /^oip_http_requests_total\{method="POST",route="\/api\/media\/upload",status="201"\}/) >= 1)
    assert.match(text, /oip_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/media\/:id"\}/)
    assert.ok(metricValue(text, /^oip_seeding_files /) >= 1)
    assert.match(text, /^oip_peer_uploaded_bytes\{transport="tcp"\}/m)
    assert.ok(!text.includes(up.body.mediaId), 'ids never become label values')
  })
})

describe('upload limits', () => {
  const servers: TestServer[] = []
  after(async () => { for (const s of servers) await s.destroy() })

  test('over MAX_CONCURRENT_UPLOADS an upload gets 429 with Retry-After, and the next one goes through', async () => {
    const server = await startTestServer({ MAX_CONCURRENT_UPLOADS: '1' })
    servers.push(server)
    const slow = partialUpload(server.url, randomBytesSeeded(500_000, 122), 100_000)
    await slow.sent
    // Wait until the server has admitted it.
    for (let i = 0; i < 100 && !(await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()).includes('oip_uploads_in_flight 1'); i++) await new Promise(resolve => setTimeout(resolve, 20))
    const refused = await fetch(`${server.url}/api/media/upload`, { method: 'POST', body: (() => { const f = new FormData(); f.append('access_level', 'public'); f.append('file', new Blob(['x'])); return f })() })
    assert.equal(refused.status, 429)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.equal((await refused.json()).error.code, 'too_many_uploads')
    assert.equal((await slow.finish()).status, 201)
    assert.equal((await upload(server.url, randomBytesSeeded(1000, 123))).status, 201)
  })

  test('under the free-disk low-water mark uploads get 507 while downloads go on, and /readyz says why', async () => {
    const dir = await tempDir()
    const first = await startTestServer({}, { dir })
    const kept = await upload(first.url, randomBytesSeeded(10_000, 124))
    await first.close()
    const server = await startTestServer({ DISK_LOW_WATER_BYTES: String(Number.MAX_SAFE_INTEGER) }, { dir })
    servers.push(server)
    const res = await upload(server.url, randomBytesSeeded(10_000, 125))
    assert.equal(res.status, 507)
    assert.equal(res.body.error.code, 'insufficient_storage')
    assert.equal((await fetch(`${server.url}/api/media/${kept.body.mediaId}`)).status, 200)
    const ready = await (await fetch(`${server.url}/readyz`)).json()
    assert.equal(ready.checks.disk.ok, false)
    assert.match(ready.checks.disk.reason, /low-water mark/)
  })
})

describe('SIGTERM', () => {
  test('an upload in flight finishes, nothing stored is lost, the process exits cleanly', { timeout: 60_000 }, async () => {
    const dir = await tempDir()
    try {
      let server = await spawnServer(dir, { SHUTDOWN_GRACE_SECONDS: '20' })
      const kept = randomBytesSeeded(200_000, 126)
      assert.equal((await upload(server.url, kept)).status, 201)
      const slowBytes = randomBytesSeeded(1_000_000, 127)
      const slow = partialUpload(server.url, slowBytes, 300_000)
      await slow.sent
      await new Promise(resolve => setTimeout(resolve, 200))
      server.child.kill('SIGTERM')
      await new Promise(resolve => setTimeout(resolve, 200))
      const answer = await slow.finish()
      assert.equal(answer.status, 201, 'the upload in flight was allowed to finish')
      assert.equal(await server.exited, 0)

      server = await spawnServer(dir)
      for (const bytes of [kept, slowBytes]) {
        const res = await fetch(`${server.url}/api/media/${sha256(bytes)}`)
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes)
      }
      assert.deepEqual(await fs.readdir(path.join(dir, 'media', '.incoming')), [])
      server.child.kill('SIGTERM')
      assert.equal(await server.exited, 0)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
