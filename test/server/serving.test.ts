import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { parse as parseDisposition } from 'content-disposition'
import parseTorrent from 'parse-torrent'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

/** GET without fetch's URL normalisation, so traversal attempts reach the server as sent. */
function rawGet (baseUrl: string, rawPath: string): Promise<{ status: number, body: string }> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    http.get({ hostname, port, path: rawPath }, res => {
      let body = ''
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

describe('serving stored media', () => {
  let server: TestServer
  const bytes = randomBytesSeeded(100_000, 31)
  const id = createHash('sha256').update(bytes).digest('hex')
  let infoHash: string
  let originalName: string
  let media: string

  before(async () => {
    server = await startTestServer({ WEBTORRENT_TRACKERS: 'wss://tracker.example.org/announce' })
    const res = await upload(server.url, bytes, { access_level: 'public' }, 'song "one";\r\nx.mp3', 'audio/mpeg')
    assert.equal(res.body.mediaId, id)
    infoHash = res.body.infoHash
    originalName = res.body.originalName
    media = `${server.url}/api/media/${id}`
  })
  after(async () => { await server.destroy() })

  test('GET answers the whole file with ETag, Accept-Ranges, nosniff and a safe Content-Disposition', async () => {
    const res = await fetch(media)
    assert.equal(res.status, 200)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes)
    assert.equal(res.headers.get('etag'), `"${id}"`)
    assert.equal(res.headers.get('accept-ranges'), 'bytes')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('content-type'), 'audio/mpeg')
    assert.equal(res.headers.get('content-length'), String(bytes.length))
    // The name carries quotes, a semicolon and a line break: the header must still parse back to it.
    const disposition = res.headers.get('content-disposition') ?? ''
    assert.doesNotMatch(disposition, /[\r\n]/)
    const parsed = parseDisposition(disposition)
    assert.equal(parsed.type, 'inline')
    assert.equal(parsed.parameters.filename, originalName)
    assert.match(originalName, /"|%22/)
  })

  test('HEAD answers the headers without a body', async () => {
    const res = await fetch(media, { method: 'HEAD' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-length'), String(bytes.length))
    assert.equal((await res.arrayBuffer()).byteLength, 0)
  })

  const ranges: Array<[string, number, number]> = [
    ['bytes=0-9', 0, 9],
    ['bytes=1000-', 1000, 99_999],
    ['bytes=-500', 99_500, 99_999],
    ['bytes=99999-200000', 99_999, 99_999]
  ]
  for (const [header, start, end] of ranges) {
    test(`Range ${header} answers 206 with exactly those bytes`, async () => {
      const res = await fetch(media, { headers: { Range: header } })
      assert.equal(res.status, 206)
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`)
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes.subarray(start, end + 1))
    })
  }

  test('a Range outside the file answers 416 with the size', async () => {
    const res = await fetch(media, { headers: { Range: 'bytes=200000-300000' } })
    assert.equal(res.status, 416)
    assert.equal(res.headers.get('content-range'), `bytes */${bytes.length}`)
    assert.equal((await res.json()).error.code, 'range_not_satisfiable')
  })

  test('a malformed Range is ignored and the whole file is sent', async () => {
    const res = await fetch(media, { headers: { Range: 'pages=1-2' } })
    assert.equal(res.status, 200)
    assert.equal((await res.arrayBuffer()).byteLength, bytes.length)
  })

  test('If-None-Match with the ETag answers 304', async () => {
    const res = await fetch(media, { headers: { 'If-None-Match': `"${id}"` } })
    assert.equal(res.status, 304)
  })

  test('info lists the manifest, the URLs and the live seeding status', async () => {
    const res = await fetch(`${media}/info`)
    assert.equal(res.status, 200)
    const info = await res.json()
    assert.equal(info.mediaId, id)
    assert.equal(info.infoHash, infoHash)
    assert.equal(info.fileSize, bytes.length)
    assert.equal(info.httpUrl, media)
    assert.equal(info.seeding.seeding, true)
    assert.equal(typeof info.seeding.peers, 'number')
  })

  test('the .torrent names the embedded tracker (ws and http), WEBTORRENT_TRACKERS and the web seed', async () => {
    const res = await fetch(`${media}/torrent`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/x-bittorrent')
    const torrent = await parseTorrent(new Uint8Array(await res.arrayBuffer()))
    assert.equal(torrent.infoHash, infoHash)
    const ws = server.url.replace('http://', 'ws://')
    assert.deepEqual(torrent.announce, [`${ws}/announce`, `${server.url}/announce`, 'wss://tracker.example.org/announce'])
    assert.deepEqual(torrent.urlList, [media])
  })

  for (const bad of ['abc', id.toUpperCase(), `${id}0`, '0'.repeat(64), `${id.slice(0, 63)}g`]) {
    test(`"${bad.slice(0, 12)}…" is not a stored id: 404 on every route`, async () => {
      for (const suffix of ['', '/info', '/torrent']) {
        const res = await fetch(`${server.url}/api/media/${bad}${suffix}`)
        assert.equal(res.status, 404, `${bad}${suffix}`)
        assert.equal((await res.json()).error.code, 'not_found')
      }
    })
  }

  test('path traversal never reaches the disk', async () => {
    for (const p of [
      '/api/media/..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/media/%2e%2e/seeder.json',
      `/api/media/${id}%2F..%2F..%2Fseeder.json`,
      '/api/media/../media/seeder.json',
      '/api/media/.incoming'
    ]) {
      const res = await rawGet(server.url, p)
      assert.notEqual(res.status, 200, p)
      assert.doesNotMatch(res.body, /root:|"seeding"/, p)
    }
  })

  test('uploaded HTML is served as an attachment, never as a page on this origin', async () => {
    const html = new TextEncoder().encode('<script>alert(document.cookie)</script>')
    const up = await upload(server.url, html, { access_level: 'public' }, 'evil.html', 'text/html')
    const res = await fetch(`${server.url}/api/media/${up.body.mediaId}`)
    assert.equal(res.headers.get('content-type'), 'application/octet-stream')
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment;/)
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/)
  })

  test('/api/seeder/stats answers the seed\'s getStats() fields', async () => {
    const stats = await (await fetch(`${server.url}/api/seeder/stats`)).json()
    for (const key of ['seedingCount', 'activeTorrents', 'totalUploaded', 'totalDownloaded', 'peers']) {
      assert.equal(typeof stats[key], 'number', key)
    }
    assert.ok(stats.seedingCount >= 2)
    assert.equal(stats.totalDownloaded, 0, 'a seeder downloads nothing')
  })

  test('an unknown API route answers a JSON 404', async () => {
    const res = await fetch(`${server.url}/api/nothing-here`)
    assert.equal(res.status, 404)
    assert.equal((await res.json()).error.code, 'not_found')
  })
})

describe('sending large files', () => {
  let server: TestServer
  // Several of the server's 256 KiB send buffers, and an odd end.
  const bytes = randomBytesSeeded(3 * 2 ** 20 + 12_345, 32)
  const id = createHash('sha256').update(bytes).digest('hex')
  let media: string

  before(async () => {
    server = await startTestServer()
    const res = await upload(server.url, bytes, { access_level: 'public' }, 'big.bin')
    assert.equal(res.body.mediaId, id)
    media = `${server.url}/api/media/${id}`
  })
  after(async () => { await server.destroy() })

  const metric = async (line: RegExp): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()
    return Number(text.split('\n').find(l => line.test(l))?.split(' ').pop() ?? 0)
  }

  test('the whole file and ranges across the send buffers come back exact, with X-Request-Id, and are counted by their status', async () => {
    const whole = await fetch(media)
    assert.equal(whole.status, 200)
    assert.match(whole.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes))
    const before206 = await metric(/^oip_http_requests_total\{method="GET",route="\/api\/media\/:id",status="206"\}/)
    for (const [start, end] of [[0, 262_143], [262_143, 262_144], [100_000, 2_000_000], [3 * 2 ** 20, bytes.length - 1]] as const) {
      const res = await fetch(media, { headers: { Range: `bytes=${start}-${end}` } })
      assert.equal(res.status, 206)
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), `bytes ${start}-${end}`)
    }
    assert.equal(await metric(/^oip_http_requests_total\{method="GET",route="\/api\/media\/:id",status="206"\}/), before206 + 4)
  })

  test('a client that goes away mid-file stops the sending: the rest is not counted as sent, and the file is closed', async () => {
    const fds = async (): Promise<number> => (await fs.readdir('/proc/self/fd')).length
    const counted = (): Promise<number> => metric(/^oip_served_bytes_total\{transport="http"\}/)
    const openBefore = await fds()
    const sentBefore = await counted()
    await new Promise<void>((resolve, reject) => {
      http.get(media, res => {
        res.once('data', () => { res.destroy(); resolve() })
      }).on('error', reject)
    })
    // The server notices the close, stops, and closes the file.
    const deadline = Date.now() + 10_000
    while (await fds() > openBefore && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(await fds(), openBefore, 'a file or socket is still open')
    const sent = await counted() - sentBefore
    assert.ok(sent < bytes.length, `${sent} of ${bytes.length} bytes counted as sent to a client that left after its first chunk`)
    // And the next request is served in full.
    assert.ok(Buffer.from(await (await fetch(media)).arrayBuffer()).equals(bytes))
  })
})

describe('per-file status', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.destroy() })

  test('info tells when the file was last wanted: its .torrent or its bytes, not a look at its info, not the seeder itself', async () => {
    const { body } = await upload(server.url, randomBytesSeeded(20_000, 35))
    // Let the seeder's own announce happen: it must not count.
    await new Promise(resolve => setTimeout(resolve, 500))
    const info = async (): Promise<any> => await (await fetch(`${server.url}/api/media/${body.mediaId}/info`)).json()
    assert.equal((await info()).seeding.lastWanted, null)
    await (await fetch(`${server.url}/api/media/${body.mediaId}/torrent`)).arrayBuffer()
    const first = (await info()).seeding.lastWanted
    assert.ok(!Number.isNaN(Date.parse(first)))
    await new Promise(resolve => setTimeout(resolve, 5))
    await (await fetch(body.httpUrl, { headers: { Range: 'bytes=0-0' } })).arrayBuffer()
    assert.ok(Date.parse((await info()).seeding.lastWanted) > Date.parse(first))
    const status = (await info()).seeding
    assert.deepEqual(Object.keys(status).sort(), ['lastWanted', 'peerId', 'peers', 'progress', 'seeding', 'state', 'uploaded'], 'no pin shown to someone who has no record')
    assert.equal(status.state, 'active')
  })
})
