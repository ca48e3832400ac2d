/**
 * Who the seeder serves over BitTorrent. A private torrent: only peers the tracker admitted with
 * a capability for that very torrent, checked at the handshake, before a byte goes out. A
 * public torrent: anyone. The peers here are bare TCP peers (test/helpers/rawPeer.ts) and a
 * real WebTorrent client, against a real server on loopback.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import { after, before, describe, test, type TestContext } from 'node:test'
import bencode from 'bencode'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import WebTorrent, { type Options } from 'webtorrent'
import { Capabilities, SEEDER_SUBJECT } from '../../server/auth/capabilities.ts'
import type { TrackerState } from '../../server/seeder/mediaSeeder.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { BLOCK, talk } from '../helpers/rawPeer.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const JWT_SECRET = 'a test secret of at least thirty-two bytes'
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')
const text = (v: unknown): string | undefined => v instanceof Uint8Array ? new TextDecoder().decode(v) : v === undefined ? undefined : String(v)

/** HTTP announce through `announceUrl` (a .torrent's, with its capability); the failure reason, if any. */
async function announce (announceUrl: string, infoHash: string, peerId: string, event = 'started'): Promise<string | undefined> {
  const sep = announceUrl.includes('?') ? '&' : '?'
  const res = await fetch(`${announceUrl}${sep}info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=${event}`)
  return text((bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>)['failure reason'])
}

/** The seeder's view of our own tracker (WebSocket and HTTP). */
const ourTrackers = (server: TestServer): TrackerState[] =>
  server.seeder.trackerStates().filter(s => s.url.startsWith(server.url) || s.url.startsWith(server.url.replace(/^http/, 'ws')))

interface Stored { bytes: Uint8Array, torrent: ParsedTorrent, httpAnnounce: string, wsAnnounce: string }

/** The owner's .torrent for an upload, as the server hands it out. */
async function stored (server: TestServer, owner: string, bytes: Uint8Array, level: 'public' | 'private', name: string): Promise<Stored> {
  const up = await upload(server.url, bytes, { access_level: level }, name, undefined, owner)
  assert.equal(up.status, 201)
  const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${up.body.mediaId}/torrent`, { headers: bearer(owner) })).arrayBuffer()))
  return { bytes, torrent, httpAnnounce: torrent.announce.find(a => a.startsWith('http'))!, wsAnnounce: torrent.announce.find(a => a.startsWith('ws'))! }
}

/** Download with a fresh WebTorrent client that finds peers only through `announce`; the bytes. */
async function download (t: TestContext, file: Stored, announce: string, opts: Options = {}): Promise<Uint8Array> {
  const dir = await tempDir('oip-leecher-')
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false, ...opts })
  t.after(async () => {
    await new Promise<void>(resolve => client.destroy(() => resolve()))
    await fs.rm(dir, { recursive: true, force: true })
  })
  const torrent = client.add(toTorrentFile({ ...file.torrent, announce: [announce], urlList: [] }), { path: dir })
  await new Promise<void>((resolve, reject) => {
    torrent.once('done', () => resolve())
    torrent.once('error', reject)
  })
  const f = torrent.files[0]!
  return new Uint8Array(await f.arrayBuffer())
}

describe('who the seeder serves', () => {
  let server: TestServer
  let owner: string
  let ownerKey: string
  let capabilities: Capabilities
  const files: Record<'a' | 'b' | 'pub', Stored> = {} as never

  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false', JWT_SECRET })
    capabilities = new Capabilities(new URL(server.url).origin, new TextEncoder().encode(JWT_SECRET), 3600)
    const identity = await newIdentity()
    ownerKey = identity.publicKey
    owner = await signIn(server.url, identity)
    files.a = await stored(server, owner, randomBytesSeeded(100_000, 901), 'private', 'a.bin')
    files.b = await stored(server, owner, randomBytesSeeded(100_000, 902), 'private', 'b.bin')
    files.pub = await stored(server, owner, randomBytesSeeded(100_000, 903), 'public', 'pub.bin')
  })
  after(async () => { await server.destroy() })

  test('a peer that never announced gets not one byte of a private torrent: the connection closes at its handshake', async () => {
    const res = await talk(server.seeder.torrentPort, files.a.torrent.infoHash, newPeerId(), { block: true })
    assert.equal(res.received, 0, `the seeder sent ${res.received} bytes (messages ${JSON.stringify(res.messages)})`)
    assert.equal(res.closed, true)
  })

  test("a peer the tracker admitted with the owner's capability is served, under the peer id it announced", async () => {
    const peerId = newPeerId()
    assert.equal(await announce(files.a.httpAnnounce, files.a.torrent.infoHash, peerId), undefined)
    const res = await talk(server.seeder.torrentPort, files.a.torrent.infoHash, peerId, { block: true })
    assert.equal(res.handshake?.peerId, server.seeder.peerId)
    assert.equal(res.messages[0], 5, 'a bitfield first')
    assert.deepEqual(new Uint8Array(res.block!), files.a.bytes.subarray(0, BLOCK))
    const other = await talk(server.seeder.torrentPort, files.a.torrent.infoHash, newPeerId())
    assert.equal(other.received, 0, 'another peer id from the same address is not')
  })

  test("BitTorrent clients holding the owner's .torrent download the private file: over TCP (HTTP tracker) and WebRTC (WebSocket tracker)", { timeout: 60_000 }, async t => {
    assert.equal(sha256(await download(t, files.a, files.a.httpAnnounce)), sha256(files.a.bytes))
    assert.equal(sha256(await download(t, files.b, files.b.wsAnnounce, { tracker: { rtcConfig: { iceServers: [] } } })), sha256(files.b.bytes))
    // The seeder's announces carry its capability, and its WebRTC answers (sent without one)
    // went with the one its WebSocket had announced with: the tracker refused none of them.
    const ours = ourTrackers(server)
    assert.equal(ours.length, 2)
    for (const s of ours) assert.ok(s.announces > 0 && s.lastError === undefined, JSON.stringify(s))
  })

  test('a peer id admitted to one private torrent is refused on another; its capability does not announce the other', async () => {
    const peerId = newPeerId()
    assert.equal(await announce(files.a.httpAnnounce, files.a.torrent.infoHash, peerId), undefined)
    const res = await talk(server.seeder.torrentPort, files.b.torrent.infoHash, peerId, { block: true })
    assert.equal(res.received, 0)
    assert.equal(res.closed, true)
    assert.match(String(await announce(files.a.httpAnnounce, files.b.torrent.infoHash, peerId)), /unknown torrent/)
  })

  test('a peer that announced stopped is forgotten', async () => {
    const peerId = newPeerId()
    assert.equal(await announce(files.a.httpAnnounce, files.a.torrent.infoHash, peerId), undefined)
    assert.equal(await announce(files.a.httpAnnounce, files.a.torrent.infoHash, peerId, 'stopped'), undefined)
    assert.equal((await talk(server.seeder.torrentPort, files.a.torrent.infoHash, peerId)).received, 0)
  })

  test("nobody gets in as the seeder: the owner's capability cannot announce the seeder's peer id, and a connection claiming it gets nothing", async () => {
    const seederId = server.seeder.peerId!
    assert.match(String(await announce(files.a.httpAnnounce, files.a.torrent.infoHash, seederId)), /unknown torrent/)
    const res = await talk(server.seeder.torrentPort, files.a.torrent.infoHash, seederId)
    assert.equal(res.received, 0)
  })

  test('a public torrent serves any TCP peer, announced or not', async () => {
    const res = await talk(server.seeder.torrentPort, files.pub.torrent.infoHash, newPeerId(), { block: true })
    assert.equal(res.handshake?.infoHash, files.pub.torrent.infoHash)
    assert.equal(res.messages[0], 5, 'a bitfield first')
    assert.deepEqual(new Uint8Array(res.block!), files.pub.bytes.subarray(0, BLOCK))
  })

  test("the tracker takes the seeder's capability only for its one torrent, unexpired, and only as the seeder's peer id", async () => {
    const { infoHash } = files.a.torrent
    const seederId = server.seeder.peerId!
    const plain = `${server.url}/announce`
    const seederToken = (claims: { infoHash?: string }, now = Date.now()): Promise<string> =>
      new Capabilities(new URL(server.url).origin, new TextEncoder().encode(JWT_SECRET), 3600, () => now).issue('tracker', { sub: SEEDER_SUBJECT, ...claims })
    const withToken = (token: string): string => `${plain}?token=${encodeURIComponent(token)}`
    assert.equal(await announce(withToken(await seederToken({ infoHash })), infoHash, seederId), undefined, 'the right one')
    assert.match(String(await announce(withToken(await seederToken({ infoHash })), infoHash, newPeerId())), /unknown torrent/, 'as another peer id')
    assert.match(String(await announce(withToken(await seederToken({ infoHash: files.b.torrent.infoHash })), infoHash, seederId)), /unknown torrent/, "another torrent's")
    assert.match(String(await announce(withToken(await seederToken({})), infoHash, seederId)), /unknown torrent/, 'one for no torrent in particular')
    assert.match(String(await announce(withToken(await seederToken({ infoHash }, Date.now() - 2 * 3600_000)), infoHash, seederId)), /unknown torrent/, 'an expired one')
    assert.equal(await announce(withToken(await capabilities.issue('tracker', { sub: ownerKey, infoHash })), infoHash, newPeerId()), undefined, "the owner's")
    assert.match(String(await announce(withToken(await capabilities.issue('tracker', { sub: ownerKey })), infoHash, newPeerId())), /unknown torrent/, "the owner's, for no torrent in particular")
  })

})

describe("the seeder's tracker capability", () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }, { seederTokenTtlSeconds: 2 }) })
  after(async () => { await server.destroy() })

  test('is renewed before it expires: announces go on being accepted long after the first one expired', { timeout: 60_000 }, async () => {
    const owner = await signIn(server.url, await newIdentity())
    // The only torrent, so every announce counted below is the private torrent's.
    await stored(server, owner, randomBytesSeeded(20_000, 911), 'private', 'p.bin')
    const started = Date.now()
    const ours = (): TrackerState[] => ourTrackers(server)
    // Its first capability (2 s) has expired once 2 s have passed; the announces after that
    // carry renewed ones (one at each half-life).
    for (let i = 0; !(Date.now() - started > 2000 && ours().every(s => s.announces >= 5)); i++) {
      assert.ok(i < 300, `no renewed announces: ${JSON.stringify(ours())}`)
      assert.ok(ours().every(s => s.lastError === undefined), JSON.stringify(ours()))
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.ok(ours().every(s => s.lastError === undefined), JSON.stringify(ours()))
  })
})

describe('HOST binds the BitTorrent port too', () => {
  const connects = async (host: string, port: number): Promise<boolean> => await new Promise(resolve => {
    const socket = net.connect(port, host)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })

  for (const [host, elsewhere] of [['127.0.0.1', false], ['0.0.0.0', true]] as const) {
    test(`HOST=${host}: ${elsewhere ? 'reachable' : 'not reachable'} on another local address (127.0.0.2)`, async () => {
      const server = await startTestServer({ HOST: host, PUBLIC_URL: 'http://127.0.0.1:0' })
      try {
        const port = server.seeder.torrentPort
        assert.equal(await connects('127.0.0.1', port), true)
        assert.equal(await connects('127.0.0.2', port), elsewhere)
      } finally {
        await server.destroy()
      }
    })
  }
})
