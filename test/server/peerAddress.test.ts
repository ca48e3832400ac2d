/**
 * A private swarm admits a peer id from the address it announced from, as the tracker saw it:
 * the same peer id over TCP from another address gets nothing (peer ids are handed out to
 * every peer in a swarm, so anyone may present one). Behind a trusted proxy (TRUST_PROXY) that
 * address, and the one per-address limits count, is the client's from X-Forwarded-For; from
 * anyone else the header changes nothing. A WebRTC peer is served under the peer id the
 * tracker relayed its offer under. Real servers on loopback, bare TCP peers from other
 * loopback addresses (127.0.0.2, 127.0.0.3), real HTTP and WebSocket clients, and a real
 * WebTorrent client over WebRTC.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import bencode from 'bencode'
import fs from 'node:fs/promises'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import WebSocket from 'ws'
import { createLogger } from '../../server/logger.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { BLOCK, talk } from '../helpers/rawPeer.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')
const text = (v: unknown): string | undefined => v instanceof Uint8Array ? new TextDecoder().decode(v) : v === undefined ? undefined : String(v)

/** Where a request comes from: the local address it connects from, and an X-Forwarded-For it may carry. */
interface From { address: string, forwardedFor?: string }

const forwarded = (from: From): Record<string, string> => from.forwardedFor === undefined ? {} : { 'X-Forwarded-For': from.forwardedFor }

/** A request over a fresh connection from `from`; its status and body. */
function request (url: string, from: From, method = 'GET'): Promise<{ status: number, body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress: from.address, agent: false, headers: { 'Content-Length': '0', ...forwarded(from) } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** An HTTP announce through `announceUrl` (with its capability) from `from`; the failure reason, if any. */
async function httpAnnounce (announceUrl: string, infoHash: string, peerId: string, from: From): Promise<string | undefined> {
  const q = `info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=started`
  const { body } = await request(`${announceUrl}&${q}`, from)
  return text((bencode.decode(new Uint8Array(body)) as Record<string, unknown>)['failure reason'])
}

/** A WebSocket announce through `announceUrl` (with its capability) from `from`; the failure reason, if any, and the open socket. */
async function wsAnnounce (announceUrl: string, infoHash: string, peerId: string, from: From): Promise<{ refusal: string | undefined, ws: WebSocket }> {
  const ws = new WebSocket(announceUrl, { localAddress: from.address, headers: forwarded(from) })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const reply = new Promise<Record<string, unknown>>(resolve => ws.once('message', data => resolve(JSON.parse(String(data)) as Record<string, unknown>)))
  ws.send(JSON.stringify({ action: 'announce', info_hash: binary(infoHash), peer_id: binary(peerId), event: 'started', left: 10, numwant: 0, uploaded: 0, downloaded: 0 }))
  return { refusal: (await reply)['failure reason'] as string | undefined, ws }
}

interface PrivateFile { bytes: Uint8Array, torrent: ParsedTorrent, infoHash: string, httpAnnounce: string, wsAnnounce: string }

/** A private upload of a fresh key's, and its .torrent's announce URLs. */
async function privateFile (server: TestServer, seed: number): Promise<PrivateFile> {
  const owner = await signIn(server.url, await newIdentity())
  const bytes = randomBytesSeeded(50_000, seed)
  const up = await upload(server.url, bytes, { access_level: 'private' }, 'p.bin', undefined, owner)
  assert.equal(up.status, 201)
  const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${up.body.mediaId}/torrent`, { headers: bearer(owner) })).arrayBuffer()))
  return { bytes, torrent, infoHash: torrent.infoHash, httpAnnounce: torrent.announce.find(a => a.startsWith('http'))!, wsAnnounce: torrent.announce.find(a => a.startsWith('ws'))! }
}

describe('a private swarm admits a peer id from the address it announced from', () => {
  let server: TestServer
  let file: PrivateFile
  const sockets: WebSocket[] = []
  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    file = await privateFile(server, 931)
  })
  after(async () => {
    for (const ws of sockets) ws.close()
    await server.destroy()
  })

  /** Whether a bare TCP peer presenting `peerId` from `address` is served: the seeder's bitfield and a block of the file. */
  const servedFrom = async (peerId: string, address: string): Promise<boolean> => {
    const res = await talk(server.seeder.torrentPort, file.infoHash, peerId, { localAddress: address, block: true })
    if (res.received === 0) {
      assert.equal(res.closed, true, 'refused: closed at the handshake')
      return false
    }
    assert.equal(res.messages[0], 5, 'a bitfield first')
    assert.deepEqual(new Uint8Array(res.block!), file.bytes.subarray(0, BLOCK))
    return true
  }

  test('announced over HTTP from 127.0.0.1: its peer id from 127.0.0.2 gets not one byte; from 127.0.0.1 it is served', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.1' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), true)
  })

  test('announced over WebSocket from 127.0.0.2: its peer id from 127.0.0.1 gets not one byte; from 127.0.0.2 it is served', async () => {
    const peerId = newPeerId()
    const { refusal, ws } = await wsAnnounce(file.wsAnnounce, file.infoHash, peerId, { address: '127.0.0.2' })
    sockets.push(ws)
    assert.equal(refusal, undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), true)
  })

  test('announcing again from another address moves the admission there', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.1' }), undefined)
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.3' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.3'), true)
  })

  test('without TRUST_PROXY an X-Forwarded-For changes nothing', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.1', forwardedFor: '127.0.0.2' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), true)
  })
})

describe('TRUST_PROXY=127.0.0.1: behind that proxy the client is the right-most untrusted X-Forwarded-For hop', () => {
  let server: TestServer
  let file: PrivateFile
  const sockets: WebSocket[] = []
  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false', TRUST_PROXY: '127.0.0.1', CHALLENGES_PER_MINUTE: '2' })
    file = await privateFile(server, 932)
  })
  after(async () => {
    for (const ws of sockets) ws.close()
    await server.destroy()
  })

  /** Is a bare TCP peer presenting `peerId` from `address` served (any byte at all)? */
  const servedFrom = async (peerId: string, address: string): Promise<boolean> =>
    (await talk(server.seeder.torrentPort, file.infoHash, peerId, { localAddress: address })).received > 0

  test('an HTTP announce through the proxy admits the forwarded client, not the proxy', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.1', forwardedFor: '127.0.0.2' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), true)
  })

  test('a WebSocket announce through the proxy admits the client its upgrade request was forwarded for', async () => {
    const peerId = newPeerId()
    const { refusal, ws } = await wsAnnounce(file.wsAnnounce, file.infoHash, peerId, { address: '127.0.0.1', forwardedFor: '127.0.0.3' })
    sockets.push(ws)
    assert.equal(refusal, undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.1'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.3'), true)
  })

  test('what a client wrote left of the hop the proxy added is not read', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.1', forwardedFor: '127.0.0.2, 127.0.0.3' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.3'), true)
  })

  test('an X-Forwarded-For from an address that is not a trusted proxy is ignored', async () => {
    const peerId = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, peerId, { address: '127.0.0.3', forwardedFor: '127.0.0.2' }), undefined)
    assert.equal(await servedFrom(peerId, '127.0.0.2'), false)
    assert.equal(await servedFrom(peerId, '127.0.0.3'), true)
  })

  test('per-address limits count the forwarded client through the proxy, and the socket for anyone else whatever they forward', async () => {
    const challenge = `${server.url}/api/auth/challenge`
    const from = (address: string, forwardedFor: string): From => ({ address, forwardedFor })
    for (let i = 0; i < 2; i++) assert.equal((await request(challenge, from('127.0.0.1', '198.51.100.1'), 'POST')).status, 200)
    const refused = await request(challenge, from('127.0.0.1', '198.51.100.1'), 'POST')
    assert.equal(refused.status, 429)
    assert.equal(JSON.parse(String(refused.body)).error.code, 'rate_limited')
    assert.equal((await request(challenge, from('127.0.0.1', '198.51.100.2'), 'POST')).status, 200, 'another client behind the proxy has its own budget')
    // From an untrusted address every request counts against that address, whatever it forwards.
    assert.equal((await request(challenge, from('127.0.0.2', '198.51.100.3'), 'POST')).status, 200)
    assert.equal((await request(challenge, from('127.0.0.2', '198.51.100.4'), 'POST')).status, 200)
    assert.equal((await request(challenge, from('127.0.0.2', '198.51.100.5'), 'POST')).status, 429)
  })
})

describe('a WebRTC peer is served under the peer id the tracker relayed its offer under', () => {
  let server: TestServer
  /** The seeder's refusals of peers, as it logs them. */
  const refusals: Array<Record<string, unknown>> = []
  let refused: (() => void) | undefined
  before(async () => {
    const sink = {
      write (line: string) {
        const entry = JSON.parse(line) as Record<string, unknown>
        if (entry.msg !== 'refused a peer the tracker did not admit') return
        refusals.push(entry)
        refused?.()
      }
    }
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }, { log: createLogger('debug', sink) })
  })
  after(async () => { await server.destroy() })

  test('a handshake naming another admitted peer id is refused before a byte of the file: it would outlive its own admission', { timeout: 60_000 }, async t => {
    const file = await privateFile(server, 933)
    const other = newPeerId()
    assert.equal(await httpAnnounce(file.httpAnnounce, file.infoHash, other, { address: '127.0.0.1' }), undefined)
    const dir = await tempDir('oip-leecher-')
    const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
    t.after(async () => {
      await new Promise<void>(resolve => client.destroy(() => resolve()))
      await fs.rm(dir, { recursive: true, force: true })
    })
    const torrent = client.add(toTorrentFile({ ...file.torrent, announce: [file.wsAnnounce], urlList: [] }), { path: dir })
    // Its tracker client announces (and offers) under the peer id it was made with; from now
    // on its handshakes name the other one.
    torrent.once('ready', () => { client.peerId = other })
    const outcome = await new Promise<string>((resolve, reject) => {
      refused = () => resolve('refused')
      torrent.once('done', () => resolve('downloaded'))
      torrent.once('error', reject)
    })
    assert.equal(outcome, 'refused')
    assert.equal(refusals[0]?.type, 'webrtc')
    assert.equal(torrent.received, 0)
  })
})
