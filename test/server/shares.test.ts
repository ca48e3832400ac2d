/**
 * Sharing a private file with chosen keys, against a real server on loopback: the recipient
 * reads it at every door (bytes, Range, /info, .torrent, the web seed of their .torrent, the
 * tracker, a real WebTorrent download from the seeder) with capabilities issued to them, and
 * nothing more (no delete, pin, share, claim); a revoke, an expiry or the owner's delete shuts
 * every door at once, capabilities issued before and open BitTorrent connections included.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test, type TestContext } from 'node:test'
import bencode from 'bencode'
import { decodeJwt } from 'jose'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { BLOCK, openPeer, talk, type RawPeer } from '../helpers/rawPeer.ts'
import { PausingStore } from '../helpers/pausingStore.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')
const MISSING_ID = 'f'.repeat(64)

interface Key { identity: Identity, key: string, token: string }

describe('sharing a private file with chosen keys', () => {
  let server: TestServer
  let store: PausingStore
  let alice: Key
  let bob: Key
  let carol: Key
  let seed = 5000

  before(async () => {
    const dir = await tempDir()
    store = new PausingStore(path.join(dir, 'media'))
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }, { dir, store })
    const key = async (): Promise<Key> => {
      const identity = await newIdentity()
      return { identity, key: identity.publicKey, token: await signIn(server.url, identity) }
    }
    alice = await key()
    bob = await key()
    carol = await key()
  })
  after(async () => { await server.destroy() })

  const get = async (path: string, who: Key | undefined, headers: Record<string, string> = {}): Promise<Response> =>
    await fetch(`${server.url}${path}`, { headers: { ...bearer(who?.token), ...headers } })
  const send = async (method: string, path: string, who: Key | undefined, body?: unknown): Promise<Response> =>
    await fetch(`${server.url}${path}`, { method, headers: { ...bearer(who?.token), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const share = async (id: string, to: string, body?: unknown, who: Key = alice): Promise<Response> => await send('PUT', `/api/media/${id}/shares/${to}`, who, body)
  const revoke = async (id: string, to: string, who: Key = alice): Promise<Response> => await send('DELETE', `/api/media/${id}/shares/${to}`, who)

  /** A new private file of Alice's (its own bytes), with her .torrent. */
  async function privateFile (name = 'plans.pdf', fields: Record<string, string> = {}, owner: Key = alice, size = 100_000): Promise<{ id: string, bytes: Uint8Array, infoHash: string }> {
    const bytes = randomBytesSeeded(size, ++seed)
    const res = await upload(server.url, bytes, { access_level: 'private', ...fields }, name, 'application/pdf', owner.token)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    return { id: res.body.mediaId, bytes, infoHash: res.body.infoHash }
  }

  async function torrentOf (id: string, who: Key): Promise<ParsedTorrent> {
    const res = await get(`/api/media/${id}/torrent`, who)
    assert.equal(res.status, 200)
    return await parseTorrent(new Uint8Array(await res.arrayBuffer()))
  }

  const httpAnnounceOf = (torrent: ParsedTorrent): string => torrent.announce.find(a => a.startsWith('http'))!

  /** An HTTP announce through `announceUrl`: the failure reason, if any, and the ports of the peers it was told of. */
  async function announce (announceUrl: string, infoHash: string, peerId: string, port = 6881): Promise<{ failure?: string, ports: number[] }> {
    const sep = announceUrl.includes('?') ? '&' : '?'
    const res = await fetch(`${announceUrl}${sep}info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=${port}&uploaded=0&downloaded=0&left=10&compact=1&event=started`)
    const body = bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>
    const failure = body['failure reason']
    if (failure !== undefined) return { failure: new TextDecoder().decode(failure as Uint8Array), ports: [] }
    const peers = Buffer.from(body.peers as Uint8Array)
    return { ports: Array.from({ length: peers.length / 6 }, (_, i) => peers.readUInt16BE(i * 6 + 4)) }
  }

  /** The 404 a missing id gets at this door, to compare refusals with. */
  async function assertRefusedLikeMissing (id: string, who: Key | undefined, why: string): Promise<void> {
    for (const door of ['', '/info', '/torrent']) {
      const res = await get(`/api/media/${id}${door}`, who, door === '' ? { Range: 'bytes=0-9' } : {})
      assert.equal(res.status, 404, `${why}: ${door || 'bytes'}`)
      assert.deepEqual(await res.json(), await (await get(`/api/media/${MISSING_ID}${door}`, who)).json())
    }
  }

  /** Bob's side of a shared file: his .torrent's capabilities, admitted at the tracker, and a BitTorrent connection to the seeder. */
  async function bobInTheSwarm (t: TestContext, file: { id: string, bytes: Uint8Array }): Promise<{ torrent: ParsedTorrent, peerId: string, peer: RawPeer }> {
    const torrent = await torrentOf(file.id, bob)
    const peerId = newPeerId()
    assert.deepEqual(await announce(httpAnnounceOf(torrent), torrent.infoHash, peerId, 6001).then(a => a.failure), undefined)
    const peer = await openPeer(server.seeder.torrentPort, torrent.infoHash, peerId)
    t.after(() => { peer.destroy() })
    assert.equal(peer.closed, false, 'admitted: the seeder keeps the connection')
    assert.deepEqual(await peer.request(0), Buffer.from(file.bytes.subarray(0, BLOCK)))
    return { torrent, peerId, peer }
  }

  test('the recipient reads the shared file at every door, with capabilities issued to them; another key gets the 404 of a missing id everywhere', { timeout: 60_000 }, async t => {
    const file = await privateFile('plans.pdf')
    await assertRefusedLikeMissing(file.id, bob, 'before the share')
    const made = await share(file.id, bob.key)
    assert.equal(made.status, 200)
    const body = await made.json()
    assert.deepEqual({ ...body, createdAt: '' }, { publicKey: bob.key, expiresAt: null, createdAt: '' })
    assert.ok(Date.parse(body.createdAt) > 0)

    const bytes = await get(`/api/media/${file.id}`, bob)
    assert.equal(bytes.status, 200)
    assert.equal(bytes.headers.get('cache-control'), 'private, no-store')
    assert.equal(sha256(new Uint8Array(await bytes.arrayBuffer())), sha256(file.bytes))
    const range = await get(`/api/media/${file.id}`, bob, { Range: 'bytes=100-199' })
    assert.equal(range.status, 206)
    assert.deepEqual(new Uint8Array(await range.arrayBuffer()), file.bytes.subarray(100, 200))

    const info = await (await get(`/api/media/${file.id}/info`, bob)).json()
    assert.equal(info.originalName, 'plans.pdf', "the owner's name for it")
    assert.equal(info.mimeType, 'application/pdf')
    assert.equal(info.accessLevel, 'private')
    assert.equal(info.infoHash, file.infoHash, "the owner's private torrent")
    assert.equal(info.seeding.pinned, undefined, 'no pin of theirs to show')

    const torrent = await torrentOf(file.id, bob)
    assert.equal(torrent.private, true)
    assert.equal(torrent.infoHash, file.infoHash)
    assert.equal(torrent.name, 'plans.pdf')
    const trackerToken = new URL(httpAnnounceOf(torrent)).searchParams.get('token')!
    assert.equal(decodeJwt(trackerToken).sub, bob.key, "the tracker capability is Bob's own")
    assert.equal(torrent.urlList.length, 1)
    assert.equal(decodeJwt(torrent.urlList[0]!.split('/seed/')[1]!).sub, bob.key, "the web seed capability is Bob's own")
    const webSeed = await fetch(torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })
    assert.equal(webSeed.status, 206)
    assert.deepEqual(new Uint8Array(await webSeed.arrayBuffer()), file.bytes.subarray(0, 10))
    assert.equal((await announce(httpAnnounceOf(torrent), torrent.infoHash, newPeerId())).failure, undefined, 'the tracker admits him')

    // A BitTorrent client holding Bob's .torrent downloads it from the seeder, through the private swarm only.
    const dir = await tempDir('oip-recipient-')
    const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false })
    t.after(async () => {
      await new Promise<void>(resolve => client.destroy(() => resolve()))
      await fs.rm(dir, { recursive: true, force: true })
    })
    const leech = client.add(toTorrentFile({ ...torrent, announce: [httpAnnounceOf(torrent)], urlList: [] }), { path: dir })
    await new Promise<void>((resolve, reject) => {
      leech.once('done', () => resolve())
      leech.once('error', reject)
    })
    assert.equal(sha256(new Uint8Array(await leech.files[0]!.arrayBuffer())), sha256(file.bytes))

    // Carol, whom nobody shared it with: nothing, not with her own capabilities either.
    await assertRefusedLikeMissing(file.id, carol, 'not shared with her')
    const hers = await privateFile('hers.bin', {}, carol)
    const herTorrent = await torrentOf(hers.id, carol)
    assert.equal((await get(`/api/media/${file.id}/seed/${herTorrent.urlList[0]!.split('/seed/')[1]!}`, carol, { Range: 'bytes=0-9' })).status, 404)
    assert.match(String((await announce(httpAnnounceOf(herTorrent), file.infoHash, newPeerId())).failure), /unknown torrent/)
    const carolPeer = await talk(server.seeder.torrentPort, file.infoHash, newPeerId())
    assert.equal(carolPeer.received, 0)
    assert.deepEqual((await (await get('/api/media?shared=me', carol)).json()).items, [])
  })

  test('the recipient may not delete, pin, edit, share, see the shares, revoke or claim: the 404 of a missing id, and nothing changes', async () => {
    const file = await privateFile()
    assert.equal((await share(file.id, bob.key)).status, 200)
    const refusals: Array<[string, string, unknown?]> = [
      ['DELETE', `/api/media/${file.id}`],
      ['PUT', `/api/media/${file.id}/pin`],
      ['DELETE', `/api/media/${file.id}/pin`],
      ['PATCH', `/api/media/${file.id}`, { name: 'mine now' }],
      ['GET', `/api/media/${file.id}/shares`],
      ['PUT', `/api/media/${file.id}/shares/${carol.key}`],
      ['DELETE', `/api/media/${file.id}/shares/${bob.key}`],
      ['POST', `/api/media/${file.id}/claim`, { access_level: 'public' }]
    ]
    for (const [method, path, body] of refusals) {
      const res = await send(method, path, bob, body)
      assert.equal(res.status, 404, `${method} ${path}`)
      assert.deepEqual(await res.json(), await (await send(method, path.replace(file.id, MISSING_ID), bob, body)).json())
    }
    assert.equal((await get(`/api/media/${file.id}`, alice)).status, 200)
    assert.equal((await get(`/api/media/${file.id}`, bob)).status, 200, 'still shared with him')
    await assertRefusedLikeMissing(file.id, carol, 'Bob could not share it on')
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares.map((s: any) => s.publicKey), [bob.key])
    assert.equal((await (await get('/api/media?owner=me', bob)).json()).items.some((i: any) => i.mediaId === file.id), false, 'he holds no record of it')
  })

  test('bad requests get 400 and a public file 409, each with what to do; nothing is stored by them', async () => {
    const file = await privateFile()
    const G = '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'
    assert.equal((await send('PUT', `/api/media/${file.id}/shares/${bob.key}`, undefined)).status, 401)
    for (const key of ['nothex', G.toUpperCase(), '04' + G.slice(2), G.slice(0, 64), '02' + '11'.repeat(32), alice.key]) {
      const res = await share(file.id, key)
      assert.equal(res.status, 400, key)
      const { error } = await res.json()
      assert.equal(error.code, 'bad_public_key')
      assert.match(error.message, key === alice.key ? /your own key/ : /compressed secp256k1 public key/)
    }
    for (const body of [{ expiresAt: new Date(Date.now() - 1000).toISOString() }, { expiresAt: 'tomorrow' }, { expiresAt: 1_900_000_000_000 }, { expiresAt: '2030-01-01' }, { until: null }]) {
      const res = await share(file.id, bob.key, body)
      assert.equal(res.status, 400, JSON.stringify(body))
      const { error } = await res.json()
      assert.equal(error.code, 'bad_field')
      assert.match(error.message, 'until' in body ? /"until"/ : /"expiresAt"/)
    }
    assert.equal((await send('PUT', `/api/media/${file.id}/shares/${bob.key}`, alice, [1])).status, 400, 'not a JSON object')
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares, [])
    assert.equal((await get(`/api/media/${file.id}`, bob)).status, 404)

    const pub = await upload(server.url, randomBytesSeeded(5000, ++seed), { access_level: 'public' }, 'pub.bin', undefined, alice.token)
    const published = await share(pub.body.mediaId, bob.key)
    assert.equal(published.status, 409)
    assert.equal((await published.json()).error.code, 'already_public')
    // Alice's record is private, but Carol published the same bytes: everyone reads them already.
    const both = randomBytesSeeded(5000, ++seed)
    const mine = await upload(server.url, both, { access_level: 'private' }, 'mine.bin', undefined, alice.token)
    assert.equal((await upload(server.url, both, { access_level: 'public' }, 'theirs.bin', undefined, carol.token)).status, 201)
    assert.equal((await share(mine.body.mediaId, bob.key)).status, 409)

    // A share and a public upload of the same bytes, at once: the share waits for the upload's
    // record (the file's lock), sees the file public and is refused, instead of slipping between.
    const racing = randomBytesSeeded(5000, ++seed)
    const racingId = sha256(racing)
    assert.equal((await upload(server.url, racing, { access_level: 'private' }, 'racing.bin', undefined, alice.token)).status, 201)
    const paused = store.pauseNextHas(racingId)
    const published2 = upload(server.url, racing, { access_level: 'public' }, 'racing-public.bin', undefined, carol.token)
    await paused.reached
    const sharing = share(racingId, bob.key)
    // Not a time limit: the share only gets this long to answer while the upload is held.
    const early = await Promise.race([sharing.then(() => 'answered'), sleep(1000).then(() => 'waiting')])
    paused.release()
    assert.equal((await published2).status, 201)
    const raced = await sharing
    assert.equal(raced.status, 409, `answered ${early} while the public upload held the file`)
    assert.equal((await raced.json()).error.code, 'already_public')
    assert.deepEqual((await (await get(`/api/media/${racingId}/shares`, alice)).json()).shares, [])

    const notHers = await share(file.id, bob.key, undefined, carol)
    assert.equal(notHers.status, 404, "Carol cannot share Alice's file")
    assert.deepEqual(await notHers.json(), await (await share(MISSING_ID, bob.key, undefined, carol)).json())
    assert.equal((await get(`/api/media/${file.id}`, bob)).status, 404)
    assert.equal((await revoke(file.id, bob.key)).status, 204, 'revoking what was never shared is no error')
    assert.equal((await revoke(file.id, 'nothex')).status, 400)
    assert.equal((await get('/api/media?shared=me', undefined)).status, 401)
    for (const query of ['shared=me&q=plans', 'shared=me&owner=me', 'shared=you']) {
      const res = await get(`/api/media?${query}`, bob)
      assert.equal(res.status, 400, query)
      const { error } = await res.json()
      assert.equal(error.code, 'bad_query')
      assert.match(error.message, query === 'shared=you' ? /only "me"/ : /leave out owner and q/)
    }
    assert.equal((await get(`/api/media?shared=me&cursor=${(await (await get('/api/media?owner=me&limit=1', alice)).json()).nextCursor}`, bob)).status, 400, "another listing's cursor")
  })

  test('revoke: every door refuses the recipient at once, capabilities issued before included; his open connection is closed and the tracker forgets him', { timeout: 60_000 }, async t => {
    const file = await privateFile('revoked.pdf')
    assert.equal((await share(file.id, bob.key)).status, 200)
    const { torrent, peerId, peer } = await bobInTheSwarm(t, file)
    const alicesAnnounce = httpAnnounceOf(await torrentOf(file.id, alice))
    assert.ok((await announce(alicesAnnounce, file.infoHash, newPeerId(), 6002)).ports.includes(6001), 'the tracker tells Alice of Bob')

    assert.equal((await revoke(file.id, bob.key)).status, 204)
    // The seeder closed his connection before the answer: asked for more, he gets nothing.
    assert.equal(await peer.request(1), undefined)
    assert.equal(peer.closed, true)
    await assertRefusedLikeMissing(file.id, bob, 'revoked')
    const webSeed = await fetch(torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })
    assert.equal(webSeed.status, 404, 'the web seed URL of his .torrent')
    assert.match(String((await announce(httpAnnounceOf(torrent), torrent.infoHash, peerId, 6001)).failure), /unknown torrent/, 'the tracker capability of his .torrent')
    assert.equal((await announce(alicesAnnounce, file.infoHash, newPeerId(), 6003)).ports.includes(6001), false, 'the tracker no longer tells anyone of him')
    const again = await talk(server.seeder.torrentPort, torrent.infoHash, peerId)
    assert.equal(again.received, 0, 'his peer id is not admitted any more')
    assert.equal((await (await get('/api/media?shared=me', bob)).json()).items.some((i: any) => i.mediaId === file.id), false)
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares, [])
    assert.equal((await revoke(file.id, bob.key)).status, 204, 'revoked twice')

    assert.equal((await share(file.id, bob.key)).status, 200)
    assert.equal((await get(`/api/media/${file.id}`, bob)).status, 200, 'shared again, he reads it again')
  })

  /** Poll Bob's bytes until they are refused (the share expired); no timing thresholds. */
  async function untilRefused (id: string): Promise<void> {
    while ((await get(`/api/media/${id}`, bob)).status === 200) await sleep(50)
  }

  test('a share that expires: refused at every door once its time passes, and his connection closes then, with no announce', { timeout: 60_000 }, async t => {
    const file = await privateFile('for-a-while.pdf')
    // The share must last until Bob is in; on a slow machine, try again with a longer one.
    let inSwarm: Awaited<ReturnType<typeof bobInTheSwarm>> | undefined
    let expiresAt = 0
    for (let window = 1500; !inSwarm; window *= 2) {
      assert.ok(window < 60_000)
      expiresAt = Date.now() + window
      assert.equal((await share(file.id, bob.key, { expiresAt: new Date(expiresAt).toISOString() })).status, 200)
      const listed = (await (await get('/api/media?shared=me', bob)).json()).items.find((i: any) => i.mediaId === file.id)
      inSwarm = await bobInTheSwarm(t, file).catch(err => {
        if (Date.now() < expiresAt) throw err
        return undefined
      })
      if (inSwarm) assert.equal(listed?.expiresAt, new Date(expiresAt).toISOString())
    }
    await untilRefused(file.id)
    assert.ok(Date.now() >= expiresAt, 'not before its time')
    await inSwarm.peer.until(() => false)
    assert.equal(inSwarm.peer.closed, true, 'the seeder closed it when the share expired')
    await assertRefusedLikeMissing(file.id, bob, 'expired')
    assert.equal((await fetch(inSwarm.torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })).status, 404)
    assert.match(String((await announce(httpAnnounceOf(inSwarm.torrent), file.infoHash, inSwarm.peerId)).failure), /unknown torrent/)
    assert.equal((await (await get('/api/media?shared=me', bob)).json()).items.some((i: any) => i.mediaId === file.id), false)
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares, [], 'expired shares are not shown')
  })

  test('an expiry set on a live share bounds the connections the recipient already has', { timeout: 60_000 }, async t => {
    const file = await privateFile('shortened.pdf')
    assert.equal((await share(file.id, bob.key)).status, 200)
    const { peer } = await bobInTheSwarm(t, file)
    const expiresAt = new Date(Date.now() + 1500).toISOString()
    const changed = await (await share(file.id, bob.key, { expiresAt })).json()
    assert.equal(changed.expiresAt, expiresAt)
    await untilRefused(file.id)
    await peer.until(() => false)
    assert.equal(peer.closed, true)
  })

  test("listings: the owner's files say whom they are shared with; 'shared with me' pages by cursor, newest share first, with who shared it and until when", async () => {
    const files = [await privateFile('one.pdf'), await privateFile('two.pdf'), await privateFile('three.pdf')]
    const carols = await privateFile('carols.pdf', {}, carol)
    assert.equal((await send('PATCH', `/api/media/${carols.id}`, carol, { tags: ['plans', 'q3'] })).status, 200)
    assert.equal((await send('PUT', `/api/media/${carols.id}/pin`, carol)).status, 200)
    const until = new Date(Date.now() + 86_400_000).toISOString()
    const shares: Array<[string, Key]> = [[files[0]!.id, alice], [files[1]!.id, alice], [carols.id, carol], [files[2]!.id, alice]]
    for (const [id, owner] of shares) {
      const res = await share(id, bob.key, id === files[1]!.id ? { expiresAt: until } : undefined, owner)
      assert.equal(res.status, 200)
      await sleep(5) // distinct share times, so the order is known
    }
    const seen: any[] = []
    let cursor: string | null = null
    do {
      const page: any = await (await get(`/api/media?shared=me&limit=3${cursor ? `&cursor=${cursor}` : ''}`, bob)).json()
      seen.push(...page.items)
      cursor = page.nextCursor
    } while (cursor)
    const ours = seen.filter(i => shares.some(([id]) => id === i.mediaId))
    assert.deepEqual(ours.map(i => i.mediaId), shares.map(([id]) => id).reverse())
    const carolsItem = ours.find(i => i.mediaId === carols.id)
    assert.equal(carolsItem.sharedBy, carol.key)
    assert.equal(carolsItem.owner, carol.key)
    assert.equal(carolsItem.originalName, 'carols.pdf')
    assert.equal(carolsItem.accessLevel, 'private')
    assert.equal(carolsItem.infoHash, carols.infoHash)
    assert.equal(carolsItem.expiresAt, null)
    assert.deepEqual(carolsItem.tags, ['plans', 'q3'], "the owner's record's tags, like its name and description")
    assert.equal('pinned' in carolsItem, false, 'whether the owner pinned it is the owner\'s to know')
    assert.ok(['active', 'idle'].includes(carolsItem.seeding), carolsItem.seeding)
    assert.equal(carolsItem.sharedWith, undefined, 'whom else it is shared with is the owner\'s to know')
    assert.equal(ours.find(i => i.mediaId === files[1]!.id).expiresAt, until)

    const mine: any[] = (await (await get('/api/media?owner=me&limit=100', alice)).json()).items
    assert.deepEqual(mine.find(i => i.mediaId === files[1]!.id).sharedWith, [{ publicKey: bob.key, expiresAt: until }])
    assert.deepEqual(mine.find(i => i.mediaId === files[0]!.id).sharedWith, [{ publicKey: bob.key, expiresAt: null }])
    assert.equal((await share(files[0]!.id, carol.key)).status, 200)
    const listed = (await (await get(`/api/media/${files[0]!.id}/shares`, alice)).json()).shares
    assert.deepEqual(listed.map((s: any) => [s.publicKey, s.expiresAt]), [[bob.key, null], [carol.key, null]])
    assert.ok(listed.every((s: any) => Date.parse(s.createdAt) > 0))
  })

  test('a file two owners share with him is listed once, through the record every door reads it by; when that share goes, through the other', async () => {
    const bytes = randomBytesSeeded(20_000, ++seed)
    const id = sha256(bytes)
    const alices = await upload(server.url, bytes, { access_level: 'private' }, 'alice-name.pdf', 'application/pdf', alice.token)
    const carols = await upload(server.url, bytes, { access_level: 'private' }, 'carol-name.pdf', 'application/pdf', carol.token)
    assert.deepEqual([alices.status, carols.status], [201, 201])
    assert.notEqual(alices.body.infoHash, carols.body.infoHash, 'each owner has a private torrent of their own')
    assert.equal((await share(id, bob.key)).status, 200)
    await sleep(5) // Alice's share is the older one
    assert.equal((await share(id, bob.key, undefined, carol)).status, 200)
    const seenByBob = async (): Promise<Array<[string, string, string]>> => {
      const items: any[] = (await (await get('/api/media?shared=me&limit=100', bob)).json()).items
      const info = await (await get(`/api/media/${id}/info`, bob)).json()
      return [...items.filter(i => i.mediaId === id).map(i => [i.sharedBy, i.originalName, i.infoHash] as [string, string, string]), ['info', info.originalName, info.infoHash]]
    }
    assert.deepEqual(await seenByBob(), [[alice.key, 'alice-name.pdf', alices.body.infoHash], ['info', 'alice-name.pdf', alices.body.infoHash]])
    assert.equal((await revoke(id, bob.key)).status, 204)
    assert.deepEqual(await seenByBob(), [[carol.key, 'carol-name.pdf', carols.body.infoHash], ['info', 'carol-name.pdf', carols.body.infoHash]])
  })

  test("another key publishing the same bytes leaves the owner's shares: when that public record goes, the recipient reads through the share again", async () => {
    const file = await privateFile('mine.pdf')
    assert.equal((await share(file.id, bob.key)).status, 200)
    assert.equal((await upload(server.url, file.bytes, { access_level: 'public' }, 'theirs.pdf', 'application/pdf', carol.token)).status, 201)
    const asPublic = await get(`/api/media/${file.id}/info`, bob)
    assert.equal((await asPublic.json()).accessLevel, 'public', 'public to everyone now, Bob included')
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares.map((s: any) => s.publicKey), [bob.key], "Alice's share stays")
    assert.equal((await send('DELETE', `/api/media/${file.id}`, carol)).status, 204)
    assert.equal((await get(`/api/media/${file.id}`, undefined)).status, 404, 'private again')
    const info = await (await get(`/api/media/${file.id}/info`, bob)).json()
    assert.deepEqual([info.originalName, info.accessLevel, info.infoHash], ['mine.pdf', 'private', file.infoHash], "through Alice's share, under her name")
    const bytes = await get(`/api/media/${file.id}`, bob)
    assert.equal(bytes.status, 200)
    assert.equal(sha256(new Uint8Array(await bytes.arrayBuffer())), sha256(file.bytes))
  })

  test('made public, a file loses its shares with its private torrent: the recipient reads the public file like anyone, and made private again it is not shared', { timeout: 60_000 }, async t => {
    const file = await privateFile('going-public.pdf')
    assert.equal((await share(file.id, bob.key)).status, 200)
    const { torrent, peerId, peer } = await bobInTheSwarm(t, file)
    const edited = await send('PATCH', `/api/media/${file.id}`, alice, { accessLevel: 'public' })
    assert.equal(edited.status, 200)
    assert.deepEqual((await edited.json()).sharedWith, [])
    await peer.until(() => false)
    assert.equal(peer.closed, true, 'the private torrent went, and his connection with it')
    assert.equal((await get(`/api/media/${file.id}`, bob)).status, 200, 'public: everyone reads it')
    assert.match(String((await announce(httpAnnounceOf(torrent), torrent.infoHash, peerId)).failure), /unknown torrent/, 'the private torrent is tracked no more')
    assert.equal((await (await get('/api/media?shared=me', bob)).json()).items.some((i: any) => i.mediaId === file.id), false)

    const back = await send('PATCH', `/api/media/${file.id}`, alice, { accessLevel: 'private' })
    assert.equal(back.status, 200)
    assert.deepEqual((await back.json()).sharedWith, [])
    await assertRefusedLikeMissing(file.id, bob, 'private again: the share did not come back')
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares, [])
  })

  test("the owner's delete takes the shares: the recipient is refused, and not let in again when the same private record is made anew", { timeout: 60_000 }, async t => {
    const salt = randomBytes(32).toString('hex')
    const file = await privateFile('gone.pdf', { torrent_salt: salt })
    assert.equal((await share(file.id, bob.key)).status, 200)
    const { peerId, peer } = await bobInTheSwarm(t, file)
    assert.equal((await send('DELETE', `/api/media/${file.id}`, alice)).status, 204)
    await peer.until(() => false)
    assert.equal(peer.closed, true)
    await assertRefusedLikeMissing(file.id, bob, 'deleted')

    const bytes = file.bytes
    const again = await upload(server.url, bytes, { access_level: 'private', torrent_salt: salt }, 'gone.pdf', 'application/pdf', alice.token)
    assert.equal(again.status, 201)
    assert.equal(again.body.infoHash, file.infoHash, 'the same private torrent')
    await assertRefusedLikeMissing(file.id, bob, 'the share went with the record')
    const res = await talk(server.seeder.torrentPort, file.infoHash, peerId)
    assert.equal(res.received, 0, 'his peer id is not admitted to the new swarm')
    assert.deepEqual((await (await get(`/api/media/${file.id}/shares`, alice)).json()).shares, [])
  })
})
