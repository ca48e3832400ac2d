/**
 * The security review's attacks (#18), tried from outside against one real server, each shown
 * refused. An attacker here is anonymous, or signed in with a key of their own, or a bare TCP
 * BitTorrent peer that never announced. (The hostile server talking to a real wallet in Chromium
 * is test/e2e/hostile-challenge.spec.ts and hostile-record.spec.ts.) Each attack is proven at
 * depth in its own test file too; this one reads as the attacker's checklist.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import bencode from 'bencode'
import parseTorrent from 'parse-torrent'
import WebSocket from 'ws'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord, signSignIn } from '../../shared/signing.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { talk } from '../helpers/rawPeer.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

const SECRET_NAME = 'victims-secret-plan.pdf'
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-AT0001-'), randomBytes(12)]).toString('hex')

describe('attacks from outside are refused', () => {
  let server: TestServer
  let victim: string
  let attacker: string
  let attackerKey: Awaited<ReturnType<typeof newIdentity>>
  const secret = randomBytesSeeded(70_000, 1801)
  const mediaId = createHash('sha256').update(secret).digest('hex')
  /** The victim's private torrent, as only the victim's .torrent tells it. */
  let privateInfoHash: string

  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    victim = await signIn(server.url, await newIdentity())
    attackerKey = await newIdentity()
    attacker = await signIn(server.url, attackerKey)
    const up = await upload(server.url, secret, { access_level: 'private' }, SECRET_NAME, 'application/pdf', victim)
    assert.equal(up.status, 201)
    privateInfoHash = up.body.infoHash
  })
  after(async () => { await server.destroy() })

  test('1. a sign-in signature cannot pass as a record, and an old-format (raw) signature is not taken', async () => {
    const own = (await upload(server.url, randomBytesSeeded(20_000, 1802), { access_level: 'public' }, 'mine.bin', undefined, attacker)).body
    const record: OipMediaRecord = {
      type: 'media',
      basic: { name: 'Mine', description: '', date: 1795000000, language: 'en', tagItems: [] },
      media: { mediaId: own.mediaId, bittorrentAddress: own.magnetURI, httpUrl: own.httpUrl, contentType: own.mimeType, size: own.fileSize },
      accessControl: { access_level: 'public', owner_public_key: attackerKey.publicKey }
    }
    const challenge = await (await fetch(`${server.url}/api/auth/challenge`, { method: 'POST' })).json()
    const { signature: signInSignature } = signSignIn(challenge.message, new URL(server.url).origin, attackerKey.privateKey)
    const post = async (signature: string): Promise<Response> => await fetch(`${server.url}/api/records`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(attacker) }, body: JSON.stringify({ record, signature })
    })
    assert.equal((await post(signInSignature)).status, 401, "a sign-in's signature is not a record's")
    assert.equal((await post('ab'.repeat(64))).status, 400, 'the old raw format is refused')
    // And the other way: a record's signature is not a sign-in.
    const res = await fetch(`${server.url}/api/auth/verify`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ publicKey: attackerKey.publicKey, nonce: challenge.nonce, signature: signRecord(record, attackerKey.privateKey) })
    })
    assert.equal(res.status, 401)
  })

  test('2 and 4. once someone publishes the same bytes, nothing anyone else can reach shows the private name, and the private view stays out of caches', async () => {
    assert.equal((await upload(server.url, secret, { access_level: 'public' }, 'harmless.pdf', 'application/pdf', attacker)).status, 201)
    const doors = [`/api/media/${mediaId}`, `/api/media/${mediaId}/info`, `/api/media/${mediaId}/torrent`, '/api/media', '/api/records', '/api/seeder/stats']
    for (const token of [undefined, attacker]) {
      for (const door of doors) {
        for (const method of ['GET', 'HEAD']) {
          const res = await fetch(`${server.url}${door}`, { method, headers: bearer(token) })
          const text = Buffer.from(await res.arrayBuffer()).toString('latin1') + JSON.stringify([...res.headers])
          assert.ok(!text.includes('victims-secret'), `${method} ${door} as ${token ? 'another key' : 'anyone'}`)
          assert.ok(!text.includes(privateInfoHash), `${method} ${door}: the private infoHash`)
        }
      }
    }
    const mine = await fetch(`${server.url}/api/media/${mediaId}/torrent`, { headers: bearer(victim) })
    await mine.arrayBuffer()
    assert.equal(mine.headers.get('cache-control'), 'private, no-store', "the victim's own private torrent")
  })

  test('3. a TCP peer that knows the private infoHash but never announced gets nothing, and cannot announce without the capability', async () => {
    const port = server.seeder.torrentPort
    const stranger = await talk(port, privateInfoHash, newPeerId(), { block: true })
    assert.equal(stranger.received, 0)
    assert.equal(stranger.block, undefined)
    // The attacker's own capability (from their own private torrent) does not open the victim's swarm.
    const theirs = (await upload(server.url, randomBytesSeeded(10_000, 1803), { access_level: 'private' }, 'theirs.bin', undefined, attacker)).body
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${theirs.mediaId}/torrent`, { headers: bearer(attacker) })).arrayBuffer()))
    const announce = torrent.announce.find(a => a.startsWith('http'))!
    const peerId = newPeerId()
    const res = await fetch(`${announce}&info_hash=${percentBytes(privateInfoHash)}&peer_id=${percentBytes(peerId)}&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=started`)
    const answer = bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>
    assert.ok(answer['failure reason'] !== undefined, 'the tracker refuses the announce')
    assert.equal((await talk(port, privateInfoHash, peerId, { block: true })).received, 0)
  })

  test('9. the app cannot be framed, and operators\' data is not for anyone', async () => {
    const page = await fetch(`${server.url}/`)
    await page.arrayBuffer()
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401)
    const ready = await (await fetch(`${server.url}/readyz`)).text()
    assert.ok(!ready.includes(server.dir), 'no absolute paths')
    const stats = await (await fetch(`${server.url}/api/seeder/stats`)).json()
    assert.equal(stats.seedingCount, (await server.seeder.getStats('public')).seedingCount, 'private torrents are not counted')
    assert.ok((await server.seeder.getStats('all')).seedingCount > stats.seedingCount)
  })
})

describe('denial-of-service attacks are bounded', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer({ CHALLENGES_PER_MINUTE: '5', PINS_PER_KEY: '2', SEED_MAX_ACTIVE: '100' })
  })
  after(async () => { await server.destroy() })

  test('5. a flood of sign-in challenges from one address is cut off with 429', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${server.url}/api/auth/challenge`, { method: 'POST' })).status)
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429])
  })

  test('5. one key with many claims cannot take the pin slots: its own allowance ends first', async () => {
    const key = await newIdentity()
    // The flood above used up 127.0.0.1's challenges for this minute: sign in from another address.
    const token = await signInFrom(server.url, key, '127.0.0.2')
    const pins: number[] = []
    for (let i = 0; i < 4; i++) {
      const up = (await upload(server.url, randomBytesSeeded(5_000, 1900 + i), { access_level: 'public' }, `f${i}.bin`, undefined, token)).body
      pins.push((await fetch(`${server.url}/api/media/${up.mediaId}/pin`, { method: 'PUT', headers: bearer(token) })).status)
    }
    assert.deepEqual(pins, [200, 200, 409, 409])
  })

  test("3. nobody can stop the seeder's peer in a public swarm by naming its peer id", async () => {
    const up = (await upload(server.url, randomBytesSeeded(5_000, 1950))).body
    const seederId = (await (await fetch(`${server.url}/api/media/${up.mediaId}/info`)).json()).seeding.peerId as string
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/announce`)
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
    const reply = new Promise<Record<string, unknown>>(resolve => socket.once('message', data => resolve(JSON.parse(String(data)))))
    const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
    socket.send(JSON.stringify({ action: 'announce', event: 'stopped', info_hash: binary(up.infoHash), peer_id: binary(seederId), numwant: 0, uploaded: 0, downloaded: 0, left: 0 }))
    const answer = await reply
    socket.close()
    assert.match(String(answer['failure reason']), /seeding server/)
  })
})

/** Sign in from another loopback address (each address has its own challenge allowance). */
async function signInFrom (baseUrl: string, key: Awaited<ReturnType<typeof newIdentity>>, localAddress: string): Promise<string> {
  const http = await import('node:http')
  const post = (path: string, body: string): Promise<any> => new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${path}`, { method: 'POST', localAddress, agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, res => {
      let text = ''
      res.on('data', c => { text += c })
      res.on('end', () => resolve(JSON.parse(text)))
    })
    req.on('error', reject)
    req.end(body)
  })
  const challenge = await post('/api/auth/challenge', '')
  const { signature } = signSignIn(challenge.message, new URL(baseUrl).origin, key.privateKey)
  return (await post('/api/auth/verify', JSON.stringify({ publicKey: key.publicKey, nonce: challenge.nonce, signature }))).token
}
