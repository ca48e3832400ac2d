import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import bencode from 'bencode'
import WebSocket from 'ws'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
const PEER_ID = '2d5757303030302d' + '31'.repeat(12)

async function httpAnnounce (baseUrl: string, infoHash: string): Promise<Record<string, unknown>> {
  const q = `info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(PEER_ID)}&port=6881&uploaded=0&downloaded=0&left=1000&compact=1&event=started`
  const res = await fetch(`${baseUrl}/announce?${q}`)
  assert.equal(res.status, 200)
  return bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>
}

/** One request over the WebSocket tracker; resolves with the first answer. */
function wsRequest (baseUrl: string, message: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/announce`)
    ws.on('open', () => ws.send(JSON.stringify(message)))
    ws.on('message', data => { ws.close(); resolve(JSON.parse(String(data))) })
    ws.on('error', reject)
  })
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort (): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as net.AddressInfo
  await new Promise(resolve => srv.close(resolve))
  return port
}

const text = (v: unknown): string => v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)

describe('the embedded tracker', () => {
  let server: TestServer
  let known: string
  let privateHash: string
  const unknown = 'ab'.repeat(20)

  before(async () => {
    server = await startTestServer()
    known = (await upload(server.url, randomBytesSeeded(40_000, 41))).body.infoHash
    const token = await signIn(server.url, await newIdentity())
    privateHash = (await upload(server.url, randomBytesSeeded(40_000, 42), { access_level: 'private' }, 'p.bin', undefined, token)).body.infoHash
  })
  after(async () => { await server.destroy() })

  test('an HTTP announce for a stored public file gets an interval and the server as a peer', async () => {
    const res = await httpAnnounce(server.url, known)
    assert.equal(res['failure reason'], undefined)
    assert.equal(typeof res.interval, 'number')
    assert.ok((res.peers as Uint8Array).length >= 6, 'the seeding server is listed as a compact peer')
  })

  test('an HTTP announce for an infoHash the server does not know is refused', async () => {
    const res = await httpAnnounce(server.url, unknown)
    assert.match(text(res['failure reason']), /unknown torrent/)
  })

  test('an announce for a private file is refused like an unknown one', async () => {
    const res = await httpAnnounce(server.url, privateHash)
    assert.match(text(res['failure reason']), /unknown torrent/)
  })

  test('a WebSocket announce for an unknown infoHash is refused; a known one is answered', async () => {
    const refused = await wsRequest(server.url, { action: 'announce', info_hash: binary(unknown), peer_id: binary(PEER_ID), numwant: 0, left: 0, event: 'started', offers: [] })
    assert.match(String(refused['failure reason']), /unknown torrent/)
    const answered = await wsRequest(server.url, { action: 'announce', info_hash: binary(known), peer_id: binary(PEER_ID), numwant: 0, left: 0, event: 'started', offers: [] })
    assert.equal(answered['failure reason'], undefined)
    assert.equal(answered.action, 'announce')
    assert.equal(typeof answered.interval, 'number')
  })

  test('scrape reveals nothing, with or without an infoHash', async () => {
    for (const info of [undefined, binary(known), binary(unknown)]) {
      const res = await wsRequest(server.url, { action: 'scrape', ...(info ? { info_hash: info } : {}) })
      assert.match(String(res['failure reason']), /scrape is not offered/)
      assert.equal(res.files, undefined)
    }
    const http = await fetch(`${server.url}/scrape?info_hash=${percentBytes(known)}`)
    assert.doesNotMatch(await http.text(), /complete|incomplete/)
  })

  test('there is no tracker stats page', async () => {
    for (const p of ['/stats', '/stats.json']) {
      const body = await (await fetch(`${server.url}${p}`)).text()
      assert.doesNotMatch(body, /torrents|peersAll|infoHash/i, p)
    }
  })

  test('a WebSocket upgrade on any other path is closed', async () => {
    const { port } = new URL(server.url)
    const closed = await new Promise<string>(resolve => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      })
      let data = ''
      socket.on('data', d => { data += d })
      socket.on('close', () => resolve(data))
    })
    assert.doesNotMatch(closed, /101 Switching Protocols/)
  })
})

describe('with SEEDING=false', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ SEEDING: 'false' }) })
  after(async () => { await server.destroy() })

  test('the server seeds nothing, yet tracks public files and serves them over HTTP', async () => {
    const bytes = randomBytesSeeded(40_000, 43)
    const { body } = await upload(server.url, bytes)
    assert.equal((await server.seeder.getStats()).activeTorrents, 0)
    assert.equal((await server.seeder.status(body.infoHash)).seeding, false)
    const res = await httpAnnounce(server.url, body.infoHash)
    assert.equal(res['failure reason'], undefined, 'peers still meet at the tracker')
    assert.equal((res.peers as Uint8Array).length, 6, 'the announcing peer itself; the server is not in the swarm')
    assert.equal((await fetch(body.httpUrl, { headers: { Range: 'bytes=0-9' } })).status, 206)
  })
})

describe('unreachable extra trackers', () => {
  let server: TestServer
  const dead = 'ws://127.0.0.1:9/announce'
  // bittorrent-tracker reports an HTTP tracker's network error as a bare "fetch failed". (Port 9
  // will not do here: fetch refuses it as a "bad port" without trying.)
  let deadHttp: string
  before(async () => {
    deadHttp = `http://127.0.0.1:${await closedPort()}/announce`
    server = await startTestServer({ WEBTORRENT_TRACKERS: `${dead},${deadHttp}` })
  })
  after(async () => { await server.destroy() })

  test("never blocks seeding, and the stats show each tracker's state", async () => {
    const { body } = await upload(server.url, randomBytesSeeded(40_000, 44))
    const ours = `${server.url.replace('http', 'ws')}/announce`
    let trackers: any[] = []
    for (let i = 0; i < 100; i++) {
      trackers = (await (await fetch(`${server.url}/api/seeder/stats`)).json()).trackers
      const ok = trackers.find(t => t.url === ours)?.announces > 0 && trackers.find(t => t.url === dead)?.lastError && trackers.find(t => t.url === deadHttp)?.lastError
      if (ok) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const mine = trackers.find(t => t.url === ours)
    assert.ok(mine.announces > 0, JSON.stringify(trackers))
    assert.equal(mine.connected, true)
    const other = trackers.find(t => t.url === dead)
    assert.match(other.lastError, /127\.0\.0\.1:9/)
    assert.equal(other.connected, false)
    assert.equal(other.announces, 0)
    const http = trackers.find(t => t.url === deadHttp)
    assert.match(http.lastError, /fetch failed.*ECONNREFUSED/, 'a network error without a URL is still put on its tracker')
    assert.equal(http.announces, 0)
    assert.equal(http.connected, undefined)
    for (const t of trackers.filter(t => t.url.startsWith(server.url.replace('http', 'ws')) || t.url.startsWith(server.url))) {
      assert.equal(t.lastError, undefined, `our own tracker ${t.url} has no error`)
    }
    // The seeder is in the swarm of our tracker all the same.
    const res = await httpAnnounce(server.url, body.infoHash)
    assert.ok((res.peers as Uint8Array).length >= 12, 'the server and the announcing peer')
  })
})
