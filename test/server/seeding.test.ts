/**
 * The server seeds every public upload to the outside world three ways: TCP to any BitTorrent
 * client (found through the HTTP tracker), WebRTC to browsers (found through the ws tracker), and
 * HTTP as a BEP 19 web seed. Each test leaves a second WebTorrent client exactly one of those ways
 * to reach the bytes, downloads a fresh upload from a fresh server, and checks every byte.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import { decode as magnetDecode } from 'magnet-uri'
import { startMirror } from '../helpers/mirror.ts'
import type { AddressInfo } from 'node:net'
import { after, describe, test, type TestContext } from 'node:test'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import WebTorrent, { type Options, type Torrent, type Wire } from 'webtorrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const FILE_SIZE = 4 * 1024 * 1024 + 12_345 // ~4 MB, not a whole number of pieces
const TIMEOUT = 60_000

/** A leecher that finds no one on its own: no DHT, LSD, uTP, NAT mapping; the rest per test. */
const ISOLATED: Options = { dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false }

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

// Everything a test starts is registered here and stopped when it ends, passed or not (the
// tests run one at a time); after() is the backstop for anything a timeout left behind.
const servers = new Set<TestServer>()
const clients = new Set<WebTorrent>()
const dirs = new Set<string>()

/** Leechers first (they hold connections to the server), then servers, then folders. */
async function stopAll (): Promise<void> {
  for (const c of [...clients]) {
    clients.delete(c)
    await new Promise<void>(resolve => c.destroy(() => resolve()))
  }
  for (const s of [...servers]) {
    servers.delete(s)
    await s.destroy()
  }
  for (const d of [...dirs]) {
    dirs.delete(d)
    await fs.rm(d, { recursive: true, force: true })
  }
}

after(stopAll)

interface Seeded {
  server: TestServer
  bytes: Uint8Array
  mediaId: string
  /** The .torrent exactly as the server hands it out. */
  served: ParsedTorrent
  httpTracker: string
  wsTracker: string
  webSeed: string
}

/** A fresh server with one fresh public upload, seeded. */
async function seededServer (seed: number, env: Record<string, string> = {}): Promise<Seeded> {
  const server = await startTestServer(env)
  servers.add(server)
  const bytes = randomBytesSeeded(FILE_SIZE, seed)
  const res = await upload(server.url, bytes, { access_level: 'public' }, `seeded-${seed}.bin`)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  const mediaId: string = res.body.mediaId
  assert.equal(mediaId, sha256(bytes))

  const torrentRes = await fetch(`${server.url}/api/media/${mediaId}/torrent`)
  assert.equal(torrentRes.status, 200)
  const served = await parseTorrent(new Uint8Array(await torrentRes.arrayBuffer()))
  assert.equal(served.infoHash, res.body.infoHash)
  assert.equal(served.length, FILE_SIZE)

  const httpTracker = `${server.url}/announce`
  const wsTracker = `${server.url.replace(/^http/, 'ws')}/announce`
  const webSeed = `${server.url}/api/media/${mediaId}`
  // The three ways in, as served; each test below keeps only one of them.
  assert.ok(served.announce.includes(httpTracker), `served announce ${JSON.stringify(served.announce)} lacks ${httpTracker}`)
  assert.ok(served.announce.includes(wsTracker), `served announce ${JSON.stringify(served.announce)} lacks ${wsTracker}`)
  assert.deepEqual(served.urlList, [webSeed])
  return { server, bytes, mediaId, served, httpTracker, wsTracker, webSeed }
}

interface Downloaded {
  bytes: Uint8Array
  /** Milliseconds from the first piece byte to the last. */
  transferMs: number
  /** Types of every wire the leecher opened (tcpOutgoing, tcpIncoming, webrtc, webSeed, …). */
  wireTypes: Set<string>
  /** Piece payload bytes received, by wire type. */
  receivedBy: Map<string, number>
}

/** Download `torrentFile` (or a magnet) with a new client into a temp folder and read the file back from the client. */
async function download (t: TestContext, torrentFile: Uint8Array | string, clientOpts: Options): Promise<Downloaded> {
  const dir = await tempDir('oip-leecher-')
  dirs.add(dir)
  const client = new WebTorrent({ ...ISOLATED, ...clientOpts })
  clients.add(client)

  const wireTypes = new Set<string>()
  const receivedBy = new Map<string, number>()
  let firstByteAt: number | undefined
  const warnings: string[] = []
  const torrent: Torrent = client.add(torrentFile, { path: dir })
  torrent.on('warning', (err: Error) => warnings.push(err.message))
  torrent.on('wire', (wire: Wire) => {
    wireTypes.add(wire.type)
    wire.on('download', (n: number) => {
      firstByteAt ??= performance.now()
      receivedBy.set(wire.type, (receivedBy.get(wire.type) ?? 0) + n)
    })
  })

  // t.signal aborts when the test ends for any reason, so the listener goes once settled.
  let onAbort = (): void => {}
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => reject(err)
    client.once('error', fail)
    torrent.once('error', fail)
    torrent.once('done', () => resolve())
    // The runner reports a timeout only as "timed out"; say how far the download got. An
    // "Ice connection failed" warning and no webrtc wire means the seeder's offers and ours
    // crossed at the tracker and each side dropped the connection the other one kept
    // (WebRTC glare, webtorrent/webtorrent#401); a seeder that sends no offers avoids it.
    onAbort = () => {
      console.error(`[${t.name}] download did not finish: progress ${torrent.progress}, peers ${torrent.numPeers}, ` +
        `wires ${JSON.stringify([...wireTypes])}, received ${JSON.stringify([...receivedBy])}, warnings ${JSON.stringify(warnings)}`)
      reject(new Error('aborted'))
    }
    t.signal.addEventListener('abort', onAbort, { once: true })
  }).finally(() => t.signal.removeEventListener('abort', onAbort))
  const transferMs = performance.now() - (firstByteAt ?? performance.now())

  // webtorrent 3's File has arrayBuffer(); the project's type stub does not list it.
  const file = torrent.files[0] as unknown as { name: string, arrayBuffer (): Promise<ArrayBuffer> }
  const bytes = new Uint8Array(await file.arrayBuffer())
  return { bytes, transferMs, wireTypes, receivedBy }
}

/** The served torrent with only the given trackers and web seeds, re-encoded as a .torrent. */
function onlyVia (served: ParsedTorrent, transport: { announce: string[], urlList: string[] }): Uint8Array {
  return toTorrentFile({ ...served, ...transport })
}

function assertSameBytes (actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.length, expected.length, 'downloaded length differs from the upload')
  assert.equal(sha256(actual), sha256(expected), 'downloaded bytes differ from the upload')
}

const TCP = ['tcpOutgoing', 'tcpIncoming']

/** Every received byte came over one of `types`, and all of the file did. */
function assertOnlyOver (result: Downloaded, types: string[], fileSize: number): void {
  const seen = JSON.stringify([...result.receivedBy])
  for (const [type, n] of result.receivedBy) {
    if (n > 0) assert.ok(types.includes(type), `received ${n} bytes over ${type}; expected only ${types.join('/')} (${seen})`)
  }
  const total = types.reduce((sum, type) => sum + (result.receivedBy.get(type) ?? 0), 0)
  assert.ok(total >= fileSize, `only ${total} of ${fileSize} bytes came over ${types.join('/')} (${seen})`)
}

describe('the server seeds public uploads', () => {
  test('a standard BitTorrent client downloads a seeded file over TCP, byte for byte', { timeout: TIMEOUT }, async t => {
    try {
      const s = await seededServer(101)
      const torrentFile = onlyVia(s.served, { announce: [s.httpTracker], urlList: [] })
      const result = await download(t, torrentFile, { webSeeds: false })
      assertSameBytes(result.bytes, s.bytes)
      assert.ok(TCP.some(type => result.wireTypes.has(type)), `no TCP wire: ${JSON.stringify([...result.wireTypes])}`)
      assertOnlyOver(result, TCP, FILE_SIZE)
    } finally {
      await stopAll()
    }
  })

  test('a WebRTC peer downloads a seeded file over the ws tracker, byte for byte', { timeout: TIMEOUT }, async t => {
    try {
      const s = await seededServer(202)
      const torrentFile = onlyVia(s.served, { announce: [s.wsTracker], urlList: [] })
      const result = await download(t, torrentFile, { webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
      assertSameBytes(result.bytes, s.bytes)
      assert.ok(result.wireTypes.has('webrtc'), `no webrtc wire: ${JSON.stringify([...result.wireTypes])}`)
      assertOnlyOver(result, ['webrtc'], FILE_SIZE)
      // The dashboard counts what was sent for that file under webrtc, and nothing under the other ways.
      const files = (await (await fetch(`${s.server.url}/api/seeder/files`)).json()).files
      const row = files.find((f: { mediaId: string }) => f.mediaId === s.mediaId)
      assert.ok(row, 'the file is listed on the dashboard')
      assert.ok(row.bytes.webrtc >= FILE_SIZE, `webrtc: ${row.bytes.webrtc} bytes counted for a ${FILE_SIZE}-byte file`)
      assert.deepEqual([row.bytes.http, row.bytes.tcp], [0, 0])
    } finally {
      await stopAll()
    }
  })

  test('a client with only the web seed downloads the file over HTTP', { timeout: TIMEOUT }, async t => {
    try {
      const s = await seededServer(303)
      const torrentFile = onlyVia(s.served, { announce: [], urlList: [s.webSeed] })
      const result = await download(t, torrentFile, { tracker: false })
      assertSameBytes(result.bytes, s.bytes)
      assert.ok(result.wireTypes.has('webSeed'), `no webSeed wire: ${JSON.stringify([...result.wireTypes])}`)
      assertOnlyOver(result, ['webSeed'], FILE_SIZE)
    } finally {
      await stopAll()
    }
  })

  test('CDN_URLS: public torrents and magnets name the mirror after the server, private ones never; with the server\'s own address dead, a client downloads from the mirror', { timeout: TIMEOUT }, async t => {
    // The mirror must exist before the server that names it starts; it learns where to pull from after.
    const mirror = await startMirror('')
    t.after(async () => await mirror.close())
    const mirrorUrl = mirror.url
    try {
      const server = await startTestServer({ CDN_URLS: `${mirrorUrl}/` })
      servers.add(server)
      mirror.origin = server.url
      const bytes = randomBytesSeeded(FILE_SIZE, 305)
      const res = await upload(server.url, bytes, { access_level: 'public' }, 'mirrored.bin')
      assert.equal(res.status, 201, JSON.stringify(res.body))
      const { mediaId } = res.body as { mediaId: string }
      const ownSeed = `${server.url}/api/media/${mediaId}`
      const mirrorSeed = `${mirrorUrl}/api/media/${mediaId}`
      const torrentRes = await fetch(`${server.url}/api/media/${mediaId}/torrent`)
      // Any page may read a public .torrent (a magnet's xs), and a mirror may keep it a day.
      assert.equal(torrentRes.headers.get('access-control-allow-origin'), '*')
      assert.equal(torrentRes.headers.get('cache-control'), 'public, max-age=3600')
      const served = await parseTorrent(new Uint8Array(await torrentRes.arrayBuffer()))
      assert.deepEqual(served.urlList, [ownSeed, mirrorSeed])
      const magnet = magnetDecode(res.body.magnetURI as string)
      assert.deepEqual(magnet.urlList, [ownSeed, mirrorSeed])
      // The magnet says where its .torrent is, so a client with only the magnet needs no peer for the metadata.
      assert.deepEqual(magnet.xs, [`${ownSeed}/torrent`, `${mirrorSeed}/torrent`])

      // A private file is never named on the mirror: its web seed is the server's, with a capability.
      const token = await signIn(server.url, await newIdentity())
      const priv = await upload(server.url, randomBytesSeeded(64 * 1024, 306), { access_level: 'private' }, 'private.bin', 'application/octet-stream', token)
      assert.equal(priv.status, 201, JSON.stringify(priv.body))
      const privateRes = await fetch(`${server.url}/api/media/${priv.body.mediaId as string}/torrent`, { headers: bearer(token) })
      assert.equal(privateRes.headers.get('cache-control'), 'private, no-store')
      assert.equal(privateRes.headers.get('access-control-allow-origin'), null)
      const privateTorrent = await parseTorrent(new Uint8Array(await privateRes.arrayBuffer()))
      assert.ok(privateTorrent.urlList.length > 0 && privateTorrent.urlList.every(u => u.startsWith(server.url)), JSON.stringify(privateTorrent.urlList))
      assert.ok(!(priv.body.magnetURI as string).includes(encodeURIComponent(mirrorUrl)), priv.body.magnetURI as string)
      assert.equal(magnetDecode(priv.body.magnetURI as string).xs, undefined)

      // The server's own address fails (a port nothing listens on); the mirror serves the file.
      const dead = http.createServer()
      await new Promise<void>(resolve => dead.listen(0, '127.0.0.1', resolve))
      const deadSeed = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/api/media/${mediaId}`
      await new Promise<void>(resolve => dead.close(() => resolve()))
      const result = await download(t, onlyVia(served, { announce: [], urlList: [deadSeed, mirrorSeed] }), { tracker: false })
      assertSameBytes(result.bytes, bytes)
      assertOnlyOver(result, ['webSeed'], FILE_SIZE)
      assert.ok(mirror.ranges() > 0, 'the mirror served no Range request')
    } finally {
      await stopAll()
    }
  })

  test("the server's seeder counts bytes it uploaded", { timeout: TIMEOUT }, async t => {
    try {
      const s = await seededServer(404)
      const before = await (await fetch(`${s.server.url}/api/seeder/stats`)).json()
      assert.equal(before.totalUploaded, 0, 'a fresh server has uploaded nothing yet')

      const torrentFile = onlyVia(s.served, { announce: [s.httpTracker], urlList: [] })
      const result = await download(t, torrentFile, { webSeeds: false })
      assertSameBytes(result.bytes, s.bytes)
      assertOnlyOver(result, TCP, FILE_SIZE)

      // The leecher has every byte, so the seeder has already sent (and counted) them all.
      const infoRes = await fetch(`${s.server.url}/api/media/${s.mediaId}/info`)
      assert.equal(infoRes.status, 200)
      const info = await infoRes.json()
      assert.equal(info.seeding.seeding, true)
      assert.ok(info.seeding.uploaded >= FILE_SIZE, `info.seeding.uploaded ${info.seeding.uploaded} < file size ${FILE_SIZE}`)

      // Asked after the file's own count, and counters only grow: the total is at least as large.
      const statsRes = await fetch(`${s.server.url}/api/seeder/stats`)
      assert.equal(statsRes.status, 200)
      const stats = await statsRes.json()
      assert.ok(stats.totalUploaded >= FILE_SIZE, `stats.totalUploaded ${stats.totalUploaded} < file size ${FILE_SIZE}`)
      assert.ok(stats.totalUploaded >= info.seeding.uploaded, 'the seeder total is less than one file\'s count')
      assert.equal(stats.seedingCount, 1)
      assert.equal(stats.activeTorrents, 1)
    } finally {
      await stopAll()
    }
  })
  test('bytes a deleted file\'s torrent sent are not counted for the same file uploaded again', { timeout: TIMEOUT }, async t => {
    try {
      const server = await startTestServer()
      servers.add(server)
      const token = await signIn(server.url, await newIdentity())
      const bytes = randomBytesSeeded(FILE_SIZE, 405)
      const res = await upload(server.url, bytes, { access_level: 'public' }, 'again.bin', undefined, token)
      assert.equal(res.status, 201)
      const served = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${res.body.mediaId}/torrent`)).arrayBuffer()))
      const result = await download(t, onlyVia(served, { announce: [`${server.url}/announce`], urlList: [] }), { webSeeds: false })
      assertSameBytes(result.bytes, bytes)
      assert.equal((await fetch(`${server.url}/api/media/${res.body.mediaId}`, { method: 'DELETE', headers: bearer(token) })).status, 204)

      // The same bytes, public again: the same infoHash, a new seed that has sent nothing.
      assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'again.bin')).status, 201)
      await server.seeder.saveSeedingState()
      const info = await (await fetch(`${server.url}/api/media/${res.body.mediaId}/info`)).json()
      assert.equal(info.infoHash, served.infoHash)
      // The leecher still in the swarm may exchange a few bytes with the new seed, not the file it has.
      assert.ok(info.seeding.uploaded < FILE_SIZE / 2, `${info.seeding.uploaded} bytes counted for the new seed`)
    } finally {
      await stopAll()
    }
  })
})

describe('seeding bandwidth limits', () => {
  const LIMIT = 1_000_000 // bytes/s

  test('with SEED_UPLOAD_LIMIT the rate to a peer does not exceed the limit', { timeout: TIMEOUT }, async t => {
    try {
      const s = await seededServer(105, { SEED_UPLOAD_LIMIT: String(LIMIT) })
      const result = await download(t, onlyVia(s.served, { announce: [s.httpTracker], urlList: [] }), { webSeeds: false })
      assertSameBytes(result.bytes, s.bytes)
      // The throttle lets its first bucket (one second's worth) through at once, with the first
      // byte; the rest comes at the limit. Only an upper bound: a busy machine can only be slower.
      const rate = (FILE_SIZE - LIMIT) / (result.transferMs / 1000)
      assert.ok(rate <= LIMIT * 1.2, `measured ${Math.round(rate)} B/s after the first bucket, against a limit of ${LIMIT}`)
    } finally {
      await stopAll()
    }
  })

  test('an admin key changes the limits at run time; other keys cannot', { timeout: TIMEOUT }, async () => {
    try {
      const admin = await newIdentity()
      const s = await seededServer(106, { SEED_UPLOAD_LIMIT: String(LIMIT), ADMIN_PUBLIC_KEYS: admin.publicKey })
      const put = async (token: string | undefined, body: object): Promise<Response> => await fetch(`${s.server.url}/api/seeder/limits`, {
        method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify(body)
      })
      assert.deepEqual((await (await fetch(`${s.server.url}/api/seeder/stats`)).json()).limits, { upload: LIMIT })
      assert.equal((await put(undefined, { upload: null })).status, 401)
      assert.equal((await put(await signIn(s.server.url, await newIdentity()), { upload: null })).status, 403)
      const token = await signIn(s.server.url, admin)
      assert.equal((await put(token, { upload: -5 })).status, 400)
      const res = await put(token, { upload: null, download: 2_000_000 })
      assert.equal(res.status, 200)
      assert.deepEqual((await res.json()).limits, { download: 2_000_000 })
      assert.deepEqual(s.server.seeder.seedLimits, { download: 2_000_000 })
    } finally {
      await stopAll()
    }
  })
})

describe('idle torrents come up when a peer wants them', () => {
  /** A server seeding at most one torrent: the first upload goes idle when the second comes. */
  async function idleFile (seed: number): Promise<Seeded> {
    const s = await seededServer(seed, { SEED_MAX_ACTIVE: '1' })
    assert.equal((await upload(s.server.url, randomBytesSeeded(50_000, seed + 1), { access_level: 'public' }, 'newer.bin')).status, 201)
    const info = await (await fetch(`${s.server.url}/api/media/${s.mediaId}/info`)).json()
    assert.equal(info.seeding.state, 'idle')
    assert.equal(info.seeding.seeding, true, 'idle files are still seeded, on demand')
    assert.equal((await s.server.seeder.getStats()).activeTorrents, 1)
    return s
  }

  const magnet = (s: Seeded, tracker: string): string => `magnet:?xt=urn:btih:${s.served.infoHash}&tr=${encodeURIComponent(tracker)}`

  test('a WebRTC peer that knows only the magnet and the ws tracker downloads an idle file', { timeout: TIMEOUT }, async t => {
    try {
      const s = await idleFile(501)
      // The seeder sends WebRTC offers only when asked; here the peer is already waiting in the
      // swarm when the torrent comes up, so the torrent's first announce must ask (numwant > 0).
      const result = await download(t, magnet(s, s.wsTracker), { webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
      assertSameBytes(result.bytes, s.bytes)
      assertOnlyOver(result, ['webrtc'], FILE_SIZE)
      assert.equal((await s.server.seeder.status(s.served.infoHash)).state, 'active')
      assert.equal((await s.server.seeder.getStats()).activeTorrents, 1, 'the other torrent went idle to make room')
    } finally {
      await stopAll()
    }
  })

  test('a BitTorrent client that knows only the magnet and the HTTP tracker downloads an idle file over TCP', { timeout: TIMEOUT }, async t => {
    try {
      const s = await idleFile(502)
      const result = await download(t, magnet(s, s.httpTracker), { webSeeds: false })
      assertSameBytes(result.bytes, s.bytes)
      assertOnlyOver(result, TCP, FILE_SIZE)
    } finally {
      await stopAll()
    }
  })
})

test('many active torrents on one tracker socket raise no "possible EventEmitter memory leak" warning', { timeout: TIMEOUT }, async t => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning') warnings.push(w) }
  process.on('warning', onWarning)
  t.after(() => { process.off('warning', onWarning) })
  const server = await startTestServer()
  t.after(async () => { await server.destroy() })
  // Node warns at the eleventh listener on one emitter.
  for (let i = 0; i < 14; i++) assert.equal((await upload(server.url, randomBytesSeeded(2000, 1400 + i), { access_level: 'public' }, `m${i}.bin`)).status, 201)
  assert.equal((await server.seeder.getStats()).activeTorrents, 14)
  // A warning is emitted on the next tick.
  await new Promise(resolve => setImmediate(resolve))
  assert.deepEqual(warnings.map(w => w.message), [])
})
