/**
 * Changing a file's access (PATCH /api/media/:id {accessLevel}) at every door, for the owner,
 * another key and no session: the listing, /info, the bytes (and so the public web seed), the
 * .torrent, a private torrent's web seed, the tracker's announce, and the seeder's swarm (a bare
 * TCP peer, and a real WebTorrent client). Private → public makes the file reachable as a public
 * upload would; public → private leaves nothing of the public torrent to anyone else, unless
 * another key still holds the file publicly. Then a restart: seeder.json and the seeds resumed
 * agree. On both databases.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, test, type TestContext } from 'node:test'
import bencode from 'bencode'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { describeEachDatabase } from '../helpers/postgres.ts'
import { BLOCK, talk } from '../helpers/rawPeer.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const MISSING_ID = 'f'.repeat(64)
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')

/** HTTP announce through `announceUrl` (a .torrent's, with its capability if it has one); the failure reason, if any. */
async function announce (announceUrl: string, infoHash: string, peerId = newPeerId()): Promise<string | undefined> {
  const sep = announceUrl.includes('?') ? '&' : '?'
  const res = await fetch(`${announceUrl}${sep}info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=6881&uploaded=0&downloaded=0&left=10&compact=1&event=started`)
  const reason = (bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>)['failure reason']
  return reason === undefined ? undefined : new TextDecoder().decode(reason as Uint8Array)
}

describeEachDatabase('changing access', ({ newDatabase }) => {
  const servers: TestServer[] = []
  const dirs: string[] = []
  after(async () => {
    for (const s of servers) await s.close()
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })
  /** What each server was started with, to start it again over the same data and database. */
  const started = new Map<TestServer, { env: Record<string, string>, dir: string }>()
  const start = async (more: Record<string, string> = {}): Promise<TestServer> => {
    const dir = await tempDir()
    dirs.push(dir)
    const env = { ALLOW_ANONYMOUS_UPLOADS: 'false', ...(await newDatabase()).env, ...more }
    const s = await startTestServer(env, { dir })
    servers.push(s)
    started.set(s, { env, dir })
    return s
  }
  async function restart (s: TestServer): Promise<TestServer> {
    const { env, dir } = started.get(s)!
    await s.close()
    servers.splice(servers.indexOf(s), 1)
    const again = await startTestServer(env, { dir })
    servers.push(again)
    started.set(again, { env, dir })
    return again
  }

  const get = async (s: TestServer, urlPath: string, token?: string, headers: Record<string, string> = {}): Promise<Response> =>
    await fetch(`${s.url}${urlPath}`, { headers: { ...bearer(token), ...headers } })
  const torrentOf = async (s: TestServer, id: string, token?: string): Promise<ParsedTorrent> => {
    const res = await get(s, `/api/media/${id}/torrent`, token)
    assert.equal(res.status, 200)
    return await parseTorrent(new Uint8Array(await res.arrayBuffer()))
  }
  const setAccess = async (s: TestServer, id: string, token: string, accessLevel: 'public' | 'private'): Promise<any> => {
    const res = await fetch(`${s.url}/api/media/${id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ accessLevel }) })
    assert.equal(res.status, 200)
    return await res.json()
  }
  const usage = async (s: TestServer, token: string): Promise<any> => await (await get(s, '/api/me/usage', token)).json()
  const publicIds = async (s: TestServer): Promise<string[]> => (await (await get(s, '/api/media')).json()).items.map((i: any) => i.mediaId)

  /** Every door refuses `token` (undefined: no session) exactly as for an id nobody has. */
  async function refusedEverywhere (s: TestServer, id: string, token: string | undefined, publicInfoHash: string): Promise<void> {
    assert.ok(!(await publicIds(s)).includes(id), 'not in the public listing')
    for (const door of ['/info', '', '/torrent']) {
      const res = await get(s, `/api/media/${id}${door}`, token)
      const none = await get(s, `/api/media/${MISSING_ID}${door}`, token)
      assert.equal(res.status, 404, `${door || 'bytes'}`)
      assert.deepEqual(await res.json(), await none.json())
    }
    // The public web seed is the bytes' URL: a Range request, as a web seed makes it, and a HEAD.
    assert.equal((await get(s, `/api/media/${id}`, token, { Range: 'bytes=0-9' })).status, 404, 'web seed')
    assert.equal((await fetch(`${s.url}/api/media/${id}`, { method: 'HEAD', headers: bearer(token) })).status, 404)
    assert.match(String(await announce(`${s.url}/announce`, publicInfoHash)), /unknown torrent/, 'the tracker no longer tracks it')
  }

  /** Everyone reaches the public torrent: listing, info, bytes, .torrent, web seed, tracker, and the seeder's swarm. */
  async function publicEverywhere (s: TestServer, id: string, bytes: Uint8Array, token: string | undefined, expected: { infoHash: string, name: string }): Promise<void> {
    assert.ok((await publicIds(s)).includes(id), 'in the public listing')
    const info = await (await get(s, `/api/media/${id}/info`, token)).json()
    assert.deepEqual([info.infoHash, info.originalName, info.accessLevel, info.seeding.seeding], [expected.infoHash, expected.name, 'public', true])
    assert.deepEqual(new Uint8Array(await (await get(s, `/api/media/${id}`, token)).arrayBuffer()), bytes)
    const torrent = await torrentOf(s, id, token)
    assert.deepEqual([torrent.infoHash, torrent.name, torrent.private], [expected.infoHash, expected.name, undefined])
    assert.deepEqual(torrent.urlList, [`${s.url}/api/media/${id}`])
    const seeded = await fetch(torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })
    assert.equal(seeded.status, 206)
    assert.deepEqual(new Uint8Array(await seeded.arrayBuffer()), bytes.subarray(0, 10))
    assert.equal(await announce(`${s.url}/announce`, expected.infoHash), undefined, 'the tracker takes its announces')
    const peer = await talk(s.seeder.torrentPort, expected.infoHash, newPeerId(), { block: true })
    assert.deepEqual(new Uint8Array(peer.block ?? []), bytes.subarray(0, BLOCK), 'the seeder serves any peer')
  }

  /** The owner's own private torrent: their .torrent (private, with capabilities), its web seed and tracker, and the seeder's swarm. */
  async function privateToOwner (s: TestServer, id: string, bytes: Uint8Array, token: string, infoHash: string): Promise<ParsedTorrent> {
    const info = await (await get(s, `/api/media/${id}/info`, token)).json()
    assert.deepEqual([info.accessLevel, info.infoHash, info.seeding.seeding, info.seeding.state], ['private', infoHash, true, 'active'])
    assert.deepEqual(new Uint8Array(await (await get(s, `/api/media/${id}`, token)).arrayBuffer()), bytes)
    const torrent = await torrentOf(s, id, token)
    assert.deepEqual([torrent.infoHash, torrent.private], [infoHash, true])
    const seeded = await fetch(torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })
    assert.equal(seeded.status, 206, 'the web seed URL with their capability')
    const peerId = newPeerId()
    const httpAnnounce = torrent.announce.find(a => a.startsWith('http'))!
    assert.equal(await announce(httpAnnounce, infoHash, peerId), undefined, 'their capability announces it')
    const peer = await talk(s.seeder.torrentPort, infoHash, peerId, { block: true })
    assert.deepEqual(new Uint8Array(peer.block ?? []), bytes.subarray(0, BLOCK), 'the seeder serves the peer the tracker admitted')
    return torrent
  }

  /** A signed OIP record of the owner's upload as `answer` (an upload's, or /info's) describes it. */
  async function postRecord (s: TestServer, who: Identity, token: string, id: string, answer: any, accessLevel: 'public' | 'private'): Promise<Response> {
    const record: OipMediaRecord = {
      type: 'media',
      basic: { name: 'Plans', description: '', date: 1795000000, language: 'en', tagItems: [] },
      media: { mediaId: id, bittorrentAddress: answer.magnetURI, httpUrl: answer.httpUrl, contentType: answer.mimeType, size: answer.fileSize },
      accessControl: { access_level: accessLevel, owner_public_key: who.publicKey }
    }
    return await fetch(`${s.url}/api/records`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ record, signature: signRecord(record, who.privateKey) }) })
  }

  /** A fresh WebTorrent client that finds the seeder through the HTTP tracker alone (TCP), no web seed; the bytes. */
  async function downloadOverTcp (t: TestContext, torrent: ParsedTorrent, tracker: string): Promise<Uint8Array> {
    const dir = await tempDir('oip-leecher-')
    const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
    t.after(async () => {
      await new Promise<void>(resolve => client.destroy(() => resolve()))
      await fs.rm(dir, { recursive: true, force: true })
    })
    const added = client.add(toTorrentFile({ ...torrent, announce: [tracker], urlList: [] }), { path: dir })
    await new Promise<void>((resolve, reject) => {
      added.once('done', () => resolve())
      added.once('error', reject)
    })
    return new Uint8Array(await (added.files[0] as unknown as { arrayBuffer (): Promise<ArrayBuffer> }).arrayBuffer())
  }

  test('private → public: reachable by everyone at every door, as a public upload of it would be; its private torrent is gone', { timeout: 120_000 }, async t => {
    const s = await start()
    const alice = await newIdentity()
    const token = await signIn(s.url, alice)
    const bob = await signIn(s.url, await newIdentity())
    const bytes = randomBytesSeeded(300_000, 1301)
    const up = (await upload(s.url, bytes, { access_level: 'private' }, 'plans.pdf', 'application/pdf', token)).body
    const id: string = up.mediaId
    const own = await privateToOwner(s, id, bytes, token, up.infoHash)
    const used = await usage(s, token)
    assert.equal((await postRecord(s, alice, token, id, up, 'private')).status, 201)
    await refusedEverywhere(s, id, bob, (await s.store.readManifest(id)).infoHash)

    const item = await setAccess(s, id, token, 'public')
    assert.deepEqual([item.accessLevel, item.originalName, item.seeding], ['public', 'plans.pdf', 'active'])
    assert.notEqual(item.infoHash, up.infoHash)
    for (const who of [bob, undefined, token]) await publicEverywhere(s, id, bytes, who, { infoHash: item.infoHash, name: 'plans.pdf' })
    // A BitTorrent client with the public .torrent downloads it from the seeder, byte for byte.
    assert.deepEqual(await downloadOverTcp(t, await torrentOf(s, id), `${s.url}/announce`), bytes)

    // Its private torrent is no longer seeded, and the capabilities issued for it announce nothing.
    assert.equal((await s.seeder.status(up.infoHash)).seeding, false)
    assert.match(String(await announce(own.announce.find(a => a.startsWith('http'))!, up.infoHash)), /unknown torrent/)
    assert.equal((await talk(s.seeder.torrentPort, up.infoHash, newPeerId(), { block: true })).received, 0)
    assert.deepEqual(await usage(s, token), used, 'the bytes were counted already')
    // Her signed private record went; a public one for the public torrent is taken.
    assert.equal((await postRecord(s, alice, token, id, up, 'private')).status, 409, 'the old record no longer matches her upload')
    assert.equal((await postRecord(s, alice, token, id, await (await get(s, `/api/media/${id}/info`, token)).json(), 'public')).status, 201)
  })

  test('public → private, held publicly by nobody else: nothing of the public torrent reaches anyone else; the owner reads through a new private torrent', async () => {
    const s = await start()
    const alice = await newIdentity()
    const token = await signIn(s.url, alice)
    const bob = await signIn(s.url, await newIdentity())
    const bytes = randomBytesSeeded(200_000, 1311)
    const up = (await upload(s.url, bytes, { access_level: 'public' }, 'map.png', 'image/png', token)).body
    const id: string = up.mediaId
    await publicEverywhere(s, id, bytes, bob, { infoHash: up.infoHash, name: 'map.png' })
    const record = await postRecord(s, alice, token, id, up, 'public')
    assert.equal(record.status, 201)
    const recordId = (await record.json()).recordId
    const used = await usage(s, token)

    const item = await setAccess(s, id, token, 'private')
    assert.equal(item.accessLevel, 'private')
    assert.notEqual(item.infoHash, up.infoHash)
    for (const who of [bob, undefined]) await refusedEverywhere(s, id, who, up.infoHash)
    // The seeder dropped the public torrent: a peer gets nothing of it.
    const status = await s.seeder.status(up.infoHash)
    assert.deepEqual([status.seeding, status.state], [false, 'idle'])
    assert.equal((await talk(s.seeder.torrentPort, up.infoHash, newPeerId(), { block: true })).received, 0)
    assert.equal((await get(s, `/api/records/${recordId}`)).status, 404, 'her public signed record is gone')

    const torrent = await privateToOwner(s, id, bytes, token, item.infoHash)
    assert.equal(torrent.name, 'map.png')
    assert.deepEqual((await (await get(s, '/api/media?owner=me', token)).json()).items.map((i: any) => [i.mediaId, i.accessLevel, i.infoHash, i.seeding]), [[id, 'private', item.infoHash, 'active']])
    assert.deepEqual(await usage(s, token), used)
    assert.equal((await postRecord(s, alice, token, id, await (await get(s, `/api/media/${id}/info`, token)).json(), 'private')).status, 201)
  })

  test('public → private while another key holds it publicly: it stays public under their record, and goes with their last public record', async () => {
    const s = await start()
    const alice = await signIn(s.url, await newIdentity())
    const bob = await signIn(s.url, await newIdentity())
    const carol = await signIn(s.url, await newIdentity())
    const bytes = randomBytesSeeded(150_000, 1321)
    const up = (await upload(s.url, bytes, { access_level: 'public', name: "Alice's" }, 'alice.bin', 'application/octet-stream', alice)).body
    const id: string = up.mediaId
    const claimed = await fetch(`${s.url}/api/media/${id}/claim`, { method: 'POST', headers: { ...bearer(bob), 'Content-Type': 'application/json' }, body: JSON.stringify({ access_level: 'public', name: "Bob's" }) })
    assert.equal(claimed.status, 201)

    const item = await setAccess(s, id, alice, 'private')
    assert.equal(item.accessLevel, 'private')
    // The public torrent is untouched (same face, same swarm), listed under Bob's record now.
    for (const who of [carol, undefined, bob]) await publicEverywhere(s, id, bytes, who, { infoHash: up.infoHash, name: 'alice.bin' })
    const listed = (await (await get(s, '/api/media')).json()).items.find((i: any) => i.mediaId === id)
    assert.equal(listed.name, "Bob's")
    await privateToOwner(s, id, bytes, alice, item.infoHash)

    // Bob's was the last public record: now it is private to Alice alone.
    assert.equal((await fetch(`${s.url}/api/media/${id}`, { method: 'DELETE', headers: bearer(bob) })).status, 204)
    for (const who of [carol, bob, undefined]) await refusedEverywhere(s, id, who, up.infoHash)
    await privateToOwner(s, id, bytes, alice, item.infoHash)
  })

  test("a pin goes with the record to its new torrent; a move that needs a pin slot none is left of is refused and changes nothing", async () => {
    const s = await start({ SEED_MAX_ACTIVE: '2' })
    const alice = await signIn(s.url, await newIdentity())
    const bob = await signIn(s.url, await newIdentity())
    const pin = async (id: string, token: string): Promise<void> => { assert.equal((await fetch(`${s.url}/api/media/${id}/pin`, { method: 'PUT', headers: bearer(token) })).status, 200) }
    const state = async (id: string, token: string): Promise<string> => (await (await get(s, `/api/media/${id}/info`, token)).json()).seeding.state

    const mine = (await upload(s.url, randomBytesSeeded(20_000, 1331), { access_level: 'private' }, 'mine.bin', undefined, alice)).body
    await pin(mine.mediaId, alice)
    const item = await setAccess(s, mine.mediaId, alice, 'public')
    assert.deepEqual([item.pinned, item.seeding], [true, 'active'])
    // Two active slots, one pinned: new uploads come and go, the pinned public torrent stays.
    for (let i = 0; i < 3; i++) await upload(s.url, randomBytesSeeded(20_000, 1332 + i), { access_level: 'public' }, `other-${i}.bin`, undefined, bob)
    assert.equal(await state(mine.mediaId, alice), 'active')

    // Bob holds it publicly too and pins it (the same pinned torrent). Alice making hers private
    // would pin a second torrent: the one server pin slot (SEED_MAX_ACTIVE / 2) is taken.
    assert.equal((await fetch(`${s.url}/api/media/${mine.mediaId}/claim`, { method: 'POST', headers: { ...bearer(bob), 'Content-Type': 'application/json' }, body: JSON.stringify({ access_level: 'public' }) })).status, 201)
    await pin(mine.mediaId, bob)
    const refused = await fetch(`${s.url}/api/media/${mine.mediaId}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(alice) }, body: JSON.stringify({ accessLevel: 'private', name: 'Renamed' }) })
    assert.equal(refused.status, 409)
    assert.equal((await refused.json()).error.code, 'pin_limit')
    const still = (await (await get(s, '/api/media?owner=me', alice)).json()).items[0]
    assert.deepEqual([still.accessLevel, still.name, still.infoHash, still.pinned], ['public', null, item.infoHash, true])
    // Bob unpins: the slot is free, and her pinned private torrent takes it.
    assert.equal((await fetch(`${s.url}/api/media/${mine.mediaId}/pin`, { method: 'DELETE', headers: bearer(bob) })).status, 200)
    const moved = await setAccess(s, mine.mediaId, alice, 'private')
    assert.deepEqual([moved.pinned, moved.seeding], [true, 'active'])
    for (let i = 0; i < 2; i++) await upload(s.url, randomBytesSeeded(20_000, 1336 + i), { access_level: 'public' }, `more-${i}.bin`, undefined, bob)
    assert.equal(await state(mine.mediaId, alice), 'active')
  })

  test('after a restart seeder.json and the resumed seeds agree with the changes: the file made private is nowhere public, the one made public is seeded', async () => {
    let s = await start()
    const owner = await newIdentity()
    let token = await signIn(s.url, owner)
    const toPrivate = randomBytesSeeded(50_000, 1341)
    const toPublic = randomBytesSeeded(60_000, 1342)
    const a = (await upload(s.url, toPrivate, { access_level: 'public' }, 'a.bin', undefined, token)).body
    const b = (await upload(s.url, toPublic, { access_level: 'private' }, 'b.bin', undefined, token)).body
    const aPrivate = (await setAccess(s, a.mediaId, token, 'private')).infoHash
    const bPublic = (await setAccess(s, b.mediaId, token, 'public')).infoHash

    s = await restart(s)
    // It listens on another port: sessions are for the old origin.
    token = await signIn(s.url, owner)
    const bob = await signIn(s.url, await newIdentity())
    const state = JSON.parse(await fs.readFile(path.join(s.config.mediaDir, 'seeder.json'), 'utf8'))
    assert.deepEqual(state.seeding.map((x: any) => [x.mediaId, x.infoHash]), [[b.mediaId, bPublic]])
    assert.deepEqual((await s.seeder.getAllSeeding()).map(x => [x.mediaId, x.infoHash]), [[b.mediaId, bPublic]])
    assert.deepEqual([(await s.seeder.status(a.infoHash)).seeding, (await s.seeder.status(b.infoHash)).seeding], [false, false], 'neither old torrent came back')
    await refusedEverywhere(s, a.mediaId, bob, a.infoHash)
    await privateToOwner(s, a.mediaId, toPrivate, token, aPrivate)
    await publicEverywhere(s, b.mediaId, toPublic, bob, { infoHash: bPublic, name: 'b.bin' })
  })
})
