/**
 * A peer speaks only for itself at the tracker (server/tracker/peerOwnership.ts): nobody may
 * stop, update, offer or answer under a peer id another open connection holds in that swarm, or
 * under the seeder's own peer id, and an HTTP `stopped` removes only the peer it names. Real
 * servers on loopback, real WebSocket clients (`ws`) and a real WebTorrent client.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import bencode from 'bencode'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import WebSocket from 'ws'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const text = (v: unknown): string | undefined => v instanceof Uint8Array ? new TextDecoder().decode(v) : v === undefined ? undefined : String(v)
const OFFER = { offer: { type: 'offer', sdp: 'not a real offer' }, offer_id: binary('aa'.repeat(20)) }

type Message = Record<string, unknown>

/** A WebSocket tracker connection: send a message, read what comes back in order. */
class TrackerSocket {
  private readonly ws: WebSocket
  private readonly inbox: Message[] = []
  private waiting: ((m: Message) => void) | undefined
  readonly opened: Promise<void>

  constructor (baseUrl: string) {
    this.ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/announce`)
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject) })
    this.ws.on('message', data => {
      const m = JSON.parse(String(data)) as Message
      if (this.waiting) { this.waiting(m); this.waiting = undefined } else this.inbox.push(m)
    })
  }

  static async open (baseUrl: string): Promise<TrackerSocket> {
    const s = new TrackerSocket(baseUrl)
    await s.opened
    return s
  }

  next (): Promise<Message> {
    const m = this.inbox.shift()
    return m ? Promise.resolve(m) : new Promise(resolve => { this.waiting = resolve })
  }

  /** Send an announce for (infoHash, peerId) and wait for the tracker's reply. */
  async announce (infoHash: string, peerId: string, extra: object = {}): Promise<Message> {
    this.ws.send(JSON.stringify({ action: 'announce', info_hash: binary(infoHash), peer_id: binary(peerId), left: 100, numwant: 0, uploaded: 0, downloaded: 0, ...extra }))
    return await this.next()
  }

  /** What arrived and was not read. */
  get unread (): Message[] { return [...this.inbox] }

  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    await new Promise(resolve => { this.ws.once('close', resolve); this.ws.close() })
  }
}

/** An HTTP announce; the decoded answer. */
async function httpAnnounce (baseUrl: string, infoHash: string, peerId: string, port: number, event: string): Promise<Message> {
  const q = `info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=${port}&uploaded=0&downloaded=0&left=100&compact=1&event=${event}`
  return bencode.decode(new Uint8Array(await (await fetch(`${baseUrl}/announce?${q}`)).arrayBuffer())) as Message
}

/** The ports of a compact peer list's loopback peers. */
const compactPorts = (peers: unknown): number[] => {
  const b = Buffer.from(peers as Uint8Array)
  return Array.from({ length: b.length / 6 }, (_, i) => b.readUInt16BE(i * 6 + 4))
}

const refusal = (m: Message): string | undefined => m['failure reason'] as string | undefined

describe('who may speak for a peer at the tracker (no seeder)', () => {
  let server: TestServer
  let one: string
  let two: string
  let three: string
  let four: string
  const sockets: TrackerSocket[] = []
  const open = async (): Promise<TrackerSocket> => { const s = await TrackerSocket.open(server.url); sockets.push(s); return s }

  before(async () => {
    // Without the seeder, the swarms hold only the test's own peers: their counts are exact.
    server = await startTestServer({ SEEDING: 'false' })
    one = (await upload(server.url, randomBytesSeeded(20_000, 61))).body.infoHash
    two = (await upload(server.url, randomBytesSeeded(20_000, 62))).body.infoHash
    three = (await upload(server.url, randomBytesSeeded(20_000, 64))).body.infoHash
    four = (await upload(server.url, randomBytesSeeded(20_000, 65))).body.infoHash
  })
  after(async () => {
    for (const s of sockets) await s.close()
    await server.destroy()
  })

  test('a connection cannot announce, stop, offer or answer under a peer id another open connection holds in that swarm', { timeout: 30_000 }, async () => {
    const [holder, other, probe] = [await open(), await open(), await open()]
    const held = newPeerId()
    assert.equal(refusal(await holder.announce(one, held, { event: 'started' })), undefined)
    const attempts: Array<[string, object]> = [
      ['started', { event: 'started' }],
      ['an update', {}],
      ['stopped', { event: 'stopped' }],
      ['completed', { event: 'completed', left: 0 }],
      ['offers', { numwant: 1, offers: [OFFER] }],
      ['an answer', { answer: { type: 'answer', sdp: 'x' }, offer_id: OFFER.offer_id, to_peer_id: binary(newPeerId()) }]
    ]
    for (const [what, extra] of attempts) {
      assert.match(String(refusal(await other.announce(one, held, extra))), /another connection/, what)
    }
    // The holder is still in the swarm, as it announced (incomplete): the probe's offer reaches it.
    const probeId = newPeerId()
    const answer = await probe.announce(one, probeId, { event: 'started', numwant: 1, offers: [OFFER] })
    assert.equal(refusal(answer), undefined)
    assert.deepEqual([answer.complete, answer.incomplete], [0, 2], 'the holder and the probe; the other connection put nobody in')
    const offer = await holder.next()
    assert.equal(offer.peer_id, binary(probeId))
    assert.ok(offer.offer)
    await probe.announce(one, probeId, { event: 'stopped' })
    await holder.announce(one, held, { event: 'stopped' })
  })

  test('a client that reconnects announces its own peer id again once its old connection is closed', { timeout: 30_000 }, async () => {
    const first = await open()
    const id = newPeerId()
    assert.equal(refusal(await first.announce(two, id, { event: 'started' })), undefined)
    const second = await open()
    assert.match(String(refusal(await second.announce(two, id, { event: 'started' }))), /another connection/, 'not while the first is open')
    await first.close()
    // The server sees the close a moment after the client does.
    let answer: Message
    for (let i = 0; ; i++) {
      answer = await second.announce(two, id, { event: 'started' })
      if (refusal(answer) === undefined) break
      assert.ok(i < 100, `still refused: ${refusal(answer)}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    assert.deepEqual([answer.complete, answer.incomplete], [0, 1], 'one peer: the old connection\'s went with it')
    await second.announce(two, id, { event: 'stopped' })
  })

  test('a closed connection takes out only the peers it announced', { timeout: 30_000 }, async () => {
    const victim = await open()
    const victimId = newPeerId()
    assert.equal(refusal(await victim.announce(three, victimId, { event: 'started' })), undefined)
    // The closing connection first names the victim's peer id in another swarm (where the victim
    // is not), then joins the victim's swarm under its own.
    const closing = await open()
    assert.equal(refusal(await closing.announce(four, victimId, { event: 'started' })), undefined)
    assert.equal(refusal(await closing.announce(three, newPeerId(), { event: 'started' })), undefined)
    await closing.close()
    const probe = await open()
    const probeId = newPeerId()
    // Until the server has seen the close, the closing connection's own peer is still counted.
    for (let i = 0; (await probe.announce(three, probeId, { event: 'started' })).incomplete !== 2; i++) {
      assert.ok(i < 100, 'the closed connection\'s peer is still in the swarm')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    const offered = victim.next()
    await probe.announce(three, probeId, { numwant: 5, offers: [OFFER] })
    assert.ok((await offered).offer, 'the victim is still in its swarm: an offer reaches it')
  })
})

describe("the seeder's place in a public swarm", () => {
  let server: TestServer
  let bytes: Uint8Array
  let torrentFile: Uint8Array
  let infoHash: string
  let seederId: string

  before(async () => {
    server = await startTestServer()
    bytes = randomBytesSeeded(200_000, 63)
    const up = await upload(server.url, bytes)
    infoHash = up.body.infoHash
    torrentFile = new Uint8Array(await (await fetch(`${server.url}/api/media/${up.body.mediaId}/torrent`)).arrayBuffer())
    // The seeder has announced the file to both of our trackers.
    for (let i = 0; !server.seeder.trackerStates().filter(s => s.url.startsWith(server.url.replace(/^http/, 'ws')) || s.url.startsWith(server.url)).every(s => s.announces > 0); i++) {
      assert.ok(i < 500, JSON.stringify(server.seeder.trackerStates()))
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    seederId = server.seeder.peerId!
  })
  after(async () => { await server.destroy() })

  test("nobody else may stop or announce the seeder's peer id: a WebRTC-only download completes under attack", { timeout: 60_000 }, async t => {
    const attacker = await TrackerSocket.open(server.url)
    t.after(() => attacker.close())
    assert.match(String(refusal(await attacker.announce(infoHash, seederId, { event: 'started', numwant: 1, offers: [OFFER] }))), /seeding server's own/, 'standing in for the seeder')
    const replies: Message[] = []
    let attacking = true
    // Stop the seeder over and over while the download runs, as the finding's probe did.
    const attack = (async () => {
      while (attacking) {
        replies.push(await attacker.announce(infoHash, seederId, { event: 'stopped' }))
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })()

    const dir = await tempDir('oip-leecher-')
    const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
    t.after(async () => {
      await new Promise<void>(resolve => client.destroy(() => resolve()))
      await fs.rm(dir, { recursive: true, force: true })
    })
    const parsed = await parseTorrent(torrentFile)
    const wsOnly = parsed.announce.filter(a => a.startsWith('ws'))
    const torrent = client.add(toTorrentFile({ ...parsed, announce: wsOnly, urlList: [] }), { path: dir })
    await new Promise<void>((resolve, reject) => { torrent.once('done', () => resolve()); torrent.once('error', reject) })
    attacking = false
    await attack
    assert.equal(sha256(new Uint8Array(await torrent.files[0]!.arrayBuffer())), sha256(bytes))
    assert.ok(replies.length > 0)
    for (const r of replies) assert.match(String(refusal(r)), /seeding server's own/)
  })

  test("an HTTP stopped removes only the peer it names: not the seeder at its address:port, nor the seeder's peer id", async () => {
    const seederPort = server.seeder.torrentPort
    const listed = async (): Promise<number[]> => compactPorts((await httpAnnounce(server.url, infoHash, newPeerId(), 7001, 'started')).peers)
    assert.ok((await listed()).includes(seederPort), 'the seeder is listed before')
    // From the seeder's own address (loopback here; behind a reverse proxy, everyone's).
    assert.equal(text((await httpAnnounce(server.url, infoHash, newPeerId(), seederPort, 'stopped'))['failure reason']), undefined)
    assert.ok((await listed()).includes(seederPort), 'the seeder is still listed after a stopped from its address:port')
    assert.match(String(text((await httpAnnounce(server.url, infoHash, seederId, seederPort, 'stopped'))['failure reason'])), /seeding server's own/)
    assert.ok((await listed()).includes(seederPort), 'the seeder is still listed')
  })
})
