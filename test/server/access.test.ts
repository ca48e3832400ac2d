/**
 * Who may see what, at every door: {owner, another key, no session} × {public, private} ×
 * {list, info, bytes, range, .torrent, web seed, tracker announce, delete}.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import bencode from 'bencode'
import parseTorrent from 'parse-torrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

type Who = 'owner' | 'other' | 'anonymous'
type Level = 'public' | 'private'

const PEER_ID = '2d5757303030302d' + '32'.repeat(12)
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')

describe('access control on every door', () => {
  let server: TestServer
  const tokens: Record<Who, string | undefined> = { owner: undefined, other: undefined, anonymous: undefined }
  const files: Record<Level, { id: string, bytes: Uint8Array, infoHash: string }> = {} as never
  /** The owner's .torrent for each file, and one private torrent of the other key (for its capabilities). */
  const ownerTorrents: Record<Level, Awaited<ReturnType<typeof parseTorrent>>> = {} as never
  let othersPrivate: Awaited<ReturnType<typeof parseTorrent>>

  const get = (path: string, who: Who, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${server.url}${path}`, { headers: { ...bearer(tokens[who]), ...headers } })

  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    tokens.owner = await signIn(server.url, await newIdentity())
    tokens.other = await signIn(server.url, await newIdentity())
    for (const [level, seed] of [['public', 71], ['private', 72]] as const) {
      const bytes = randomBytesSeeded(120_000, seed)
      const res = await upload(server.url, bytes, { access_level: level }, `${level}-plans.pdf`, 'application/pdf', tokens.owner)
      assert.equal(res.status, 201)
      files[level] = { id: res.body.mediaId, bytes, infoHash: res.body.infoHash }
      ownerTorrents[level] = await parseTorrent(new Uint8Array(await (await get(`/api/media/${res.body.mediaId}/torrent`, 'owner')).arrayBuffer()))
    }
    const theirs = await upload(server.url, randomBytesSeeded(10_000, 73), { access_level: 'private' }, 'theirs.bin', undefined, tokens.other)
    othersPrivate = await parseTorrent(new Uint8Array(await (await get(`/api/media/${theirs.body.mediaId}/torrent`, 'other')).arrayBuffer()))
  })
  after(async () => { await server.destroy() })

  /** Who gets in: everyone for public files, only the owner for private ones. */
  const allowed = (who: Who, level: Level): boolean => level === 'public' || who === 'owner'
  const cells: Array<[Who, Level]> = (['owner', 'other', 'anonymous'] as Who[]).flatMap(w => (['public', 'private'] as Level[]).map(l => [w, l] as [Who, Level]))

  /** The 404 a missing id gets, to compare refusals with. */
  const missingId = 'f'.repeat(64)

  for (const [who, level] of cells) {
    const ok = allowed(who, level)
    describe(`${who} × ${level}`, () => {
      test(`list: ${ok ? 'listed' : 'not listed'}`, async () => {
        const everyone = await (await get('/api/media', who)).json()
        assert.equal(everyone.items.some((i: any) => i.mediaId === files[level].id), level === 'public')
        const mine = await get('/api/media?owner=me', who)
        if (who === 'anonymous') return assert.equal(mine.status, 401)
        const listed = (await mine.json()).items.some((i: any) => i.mediaId === files[level].id)
        assert.equal(listed, who === 'owner')
      })

      for (const [door, path] of [['info', '/info'], ['bytes', ''], ['.torrent', '/torrent']] as const) {
        test(`${door}: ${ok ? 'served' : 'the same 404 as a missing id'}`, async () => {
          const res = await get(`/api/media/${files[level].id}${path}`, who)
          if (ok) {
            assert.equal(res.status, 200)
            if (door === 'bytes') assert.deepEqual(new Uint8Array(await res.arrayBuffer()), files[level].bytes)
            return
          }
          assert.equal(res.status, 404)
          const none = await get(`/api/media/${missingId}${path}`, who)
          assert.deepEqual(await res.json(), await none.json())
        })
      }

      test(`range: ${ok ? '206' : '404'}`, async () => {
        const res = await get(`/api/media/${files[level].id}`, who, { Range: 'bytes=100-199' })
        assert.equal(res.status, ok ? 206 : 404)
        if (ok) assert.deepEqual(new Uint8Array(await res.arrayBuffer()), files[level].bytes.subarray(100, 200))
      })

      test(`web seed: ${ok ? 'the URL in their .torrent serves ranges without headers' : 'no URL of theirs opens it'}`, async () => {
        if (ok) {
          const torrent = who === 'owner' ? ownerTorrents[level] : await parseTorrent(new Uint8Array(await (await get(`/api/media/${files[level].id}/torrent`, who)).arrayBuffer()))
          assert.equal(torrent.urlList.length, 1)
          const res = await fetch(torrent.urlList[0]!, { headers: { Range: 'bytes=0-9' } })
          assert.equal(res.status, 206)
          assert.deepEqual(new Uint8Array(await res.arrayBuffer()), files[level].bytes.subarray(0, 10))
          return
        }
        // A valid web seed capability for another file, a forged one, and none at all.
        const foreign = othersPrivate.urlList[0]!.split('/seed/')[1]!
        for (const token of [foreign, 'x.y.z', '']) {
          const res = await get(`/api/media/${files[level].id}/seed/${token}`, who, { Range: 'bytes=0-9' })
          assert.equal(res.status, 404, `token ${token.slice(0, 10)}`)
        }
      })

      test(`tracker announce: ${ok ? 'accepted' : 'refused'}`, async () => {
        // Peers use the announce URL of the .torrent they hold: the owner's carries a capability;
        // another key only has capabilities for its own files; anonymous has none.
        const announceUrl = who === 'owner' ? ownerTorrents[level].announce[1]! : who === 'other' ? othersPrivate.announce[1]! : `${server.url}/announce`
        const infoHash = level === 'public' ? files.public.infoHash : ownerTorrents.private.infoHash
        const url = new URL(announceUrl)
        const sep = url.search ? '&' : '?'
        const res = await fetch(`${announceUrl}${sep}info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(PEER_ID)}&port=6881&uploaded=0&downloaded=0&left=10&compact=1`)
        const body = bencode.decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>
        assert.equal(body['failure reason'] === undefined, ok, JSON.stringify(Object.keys(body)))
      })

      if (who !== 'owner') {
        test('delete: refused and nothing changes', async () => {
          const res = await fetch(`${server.url}/api/media/${files[level].id}`, { method: 'DELETE', headers: bearer(tokens[who]) })
          assert.equal(res.status, who === 'anonymous' ? 401 : 404)
          assert.equal((await get(`/api/media/${files[level].id}`, 'owner')).status, 200)
        })
      }
    })
  }

  test('private torrents are private, salted and announced only to this server', async () => {
    const t = ownerTorrents.private
    assert.equal(t.private, true)
    const contentHash = (await server.store.readManifest(files.private.id)).infoHash
    assert.notEqual(t.infoHash, contentHash, 'not the infoHash anyone with the bytes would compute')
    assert.ok(t.announce.every(a => a.startsWith(server.url.replace('http', 'ws')) || a.startsWith(server.url)), 'only our tracker')
    assert.ok(t.announce.every(a => a.includes('token=')))
    assert.equal(ownerTorrents.public.private, undefined)
    assert.equal(files.private.infoHash, t.infoHash, 'the upload answered the private infoHash')
  })

  test('the owner deletes: the record goes, and with no record left so do the bytes and seeding', async () => {
    for (const level of ['public', 'private'] as const) {
      const res = await fetch(`${server.url}/api/media/${files[level].id}`, { method: 'DELETE', headers: bearer(tokens.owner) })
      assert.equal(res.status, 204)
      assert.equal((await get(`/api/media/${files[level].id}`, 'owner')).status, 404)
      assert.equal(await server.store.has(files[level].id), false)
    }
    assert.equal((await server.seeder.status(files.public.infoHash)).seeding, false)
    assert.equal((await server.seeder.status(ownerTorrents.private.infoHash)).seeding, false)
  })
})

describe('uploads and ownership', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }) })
  after(async () => { await server.destroy() })

  test('an upload without a session is refused before its body is read', async () => {
    const bytes = randomBytesSeeded(1000, 81)
    const res = await upload(server.url, bytes)
    assert.equal(res.status, 401)
    assert.equal(res.body.error.code, 'login_required')
    assert.equal(await server.store.has(sha256(bytes)), false)
  })

  test('uploading bytes another key holds privately gives the caller their own record and reveals nothing', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bob = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(60_000, 82)
    const a = await upload(server.url, bytes, { access_level: 'private' }, 'alice-diary.txt', 'text/plain', alice)
    for (const level of ['private', 'public'] as const) {
      const b = await upload(server.url, bytes, { access_level: level }, 'bob.txt', 'text/plain', bob)
      assert.equal(b.status, level === 'private' ? 201 : 200, 'a new record for bob (then his existing one)')
      assert.equal(b.body.originalName, 'bob.txt')
      assert.doesNotMatch(JSON.stringify(b.body), /alice|diary/)
      assert.notEqual(b.body.infoHash, a.body.infoHash)
      assert.notEqual(b.body.owner, a.body.owner)
    }
    // Bob's private record stays private even though he tried to upload it as public later.
    assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'bob.txt', 'text/plain', bob)).body.accessLevel, 'private')
  })

  test("publishing bytes first uploaded privately shows the publisher's name, never the private owner's", async () => {
    const alice = await signIn(server.url, await newIdentity())
    const carol = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(70_000, 83)
    await upload(server.url, bytes, { access_level: 'private' }, 'alice-secret.txt', 'text/plain', alice)
    const c = await upload(server.url, bytes, { access_level: 'public' }, 'carol-public.txt', 'text/plain', carol)
    assert.equal(c.status, 201)
    const info = await (await fetch(`${server.url}/api/media/${c.body.mediaId}/info`)).json()
    assert.equal(info.originalName, 'carol-public.txt')
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${c.body.mediaId}/torrent`)).arrayBuffer()))
    assert.equal(torrent.name, 'carol-public.txt')
    assert.equal(torrent.infoHash, c.body.infoHash)
    const res = await fetch(`${server.url}/api/media/${c.body.mediaId}`)
    assert.doesNotMatch(res.headers.get('content-disposition') ?? '', /alice/)
    // Alice still sees her own name.
    const hers = await (await fetch(`${server.url}/api/media/${c.body.mediaId}/info`, { headers: bearer(alice) })).json()
    assert.equal(hers.originalName, 'alice-secret.txt')
  })

  test('two keys publishing the same privately stored bytes at once agree on one public torrent', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const publishers = [await signIn(server.url, await newIdentity()), await signIn(server.url, await newIdentity()), await signIn(server.url, await newIdentity())]
    const bytes = randomBytesSeeded(90_000, 85)
    await upload(server.url, bytes, { access_level: 'private' }, 'alice-only.txt', 'text/plain', alice)
    const uploads = await Promise.all(publishers.map((token, i) => upload(server.url, bytes, { access_level: 'public' }, `upload-${i}.txt`, 'text/plain', token)))
    const info = await (await fetch(`${server.url}/api/media/${sha256(bytes)}/info`)).json()
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${sha256(bytes)}/torrent`)).arrayBuffer()))
    assert.equal(torrent.infoHash, info.infoHash)
    assert.equal(torrent.name, info.originalName)
    for (const u of uploads) assert.equal(u.body.infoHash, info.infoHash)
  })

  test('ownership and access level cannot be changed by re-uploading', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(30_000, 84)
    const first = await upload(server.url, bytes, { access_level: 'public' }, 'a.bin', undefined, alice)
    const again = await upload(server.url, bytes, { access_level: 'private' }, 'b.bin', undefined, alice)
    assert.equal(again.status, 200)
    assert.equal(again.body.accessLevel, 'public')
    assert.equal(again.body.owner, first.body.owner)
  })

  test('anonymous private uploads are refused even when anonymous public uploads are allowed', async () => {
    const open = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'true' })
    try {
      const bytes = randomBytesSeeded(5000, 85)
      const res = await upload(open.url, bytes, { access_level: 'private' })
      assert.equal(res.status, 401)
      assert.equal(await open.store.has(sha256(bytes)), false)
      const pub = await upload(open.url, randomBytesSeeded(5000, 86), { access_level: 'public' })
      assert.equal(pub.status, 201)
      assert.equal(pub.body.owner, null)
    } finally {
      await open.destroy()
    }
  })
})

describe('claiming bytes the server already has', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }) })
  after(async () => { await server.destroy() })

  const claim = (id: string, token: string | undefined, body: object): Promise<Response> => fetch(`${server.url}/api/media/${id}/claim`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(token) },
    body: JSON.stringify(body)
  })

  test('a public file is claimed without sending its bytes: a record of your own, 201 then 200', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bob = await signIn(server.url, await newIdentity())
    const up = await upload(server.url, randomBytesSeeded(40_000, 101), { access_level: 'public' }, 'shared.bin', undefined, alice)
    const res = await claim(up.body.mediaId, bob, { access_level: 'public', name: 'My copy', original_name: 'bobs.bin' })
    assert.equal(res.status, 201)
    const body = await res.json()
    assert.equal(body.mediaId, up.body.mediaId)
    assert.equal(body.infoHash, up.body.infoHash, 'the one public swarm')
    assert.notEqual(body.owner, up.body.owner)
    assert.equal((await claim(up.body.mediaId, bob, { access_level: 'public' })).status, 200)
    const mine = await (await fetch(`${server.url}/api/media?owner=me`, { headers: bearer(bob) })).json()
    assert.deepEqual(mine.items.map((i: any) => i.mediaId), [up.body.mediaId])
  })

  test("someone else's private bytes cannot be claimed: the same 404 as a missing id", async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bob = await signIn(server.url, await newIdentity())
    const up = await upload(server.url, randomBytesSeeded(40_000, 102), { access_level: 'private' }, 'secret.bin', undefined, alice)
    const res = await claim(up.body.mediaId, bob, { access_level: 'private' })
    const missing = await claim('e'.repeat(64), bob, { access_level: 'private' })
    assert.equal(res.status, 404)
    assert.deepEqual(await res.json(), await missing.json())
  })

  test('claiming needs a session and a valid form', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const up = await upload(server.url, randomBytesSeeded(10_000, 103), { access_level: 'public' }, 'x.bin', undefined, alice)
    assert.equal((await claim(up.body.mediaId, undefined, { access_level: 'public' })).status, 401)
    const bad = await claim(up.body.mediaId, alice, { access_level: 'secret' })
    assert.equal(bad.status, 400)
    assert.equal((await bad.json()).error.code, 'bad_access_level')
    assert.equal((await claim(up.body.mediaId, alice, { access_level: 'private', torrent_salt: 'xyz' })).status, 400)
  })
})

describe('deleting', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }) })
  after(async () => { await server.destroy() })

  test('the bytes stay while another record holds them, and go with the last one', async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bob = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(30_000, 111)
    const a = await upload(server.url, bytes, { access_level: 'public' }, 'a.bin', undefined, alice)
    await upload(server.url, bytes, { access_level: 'private' }, 'b.bin', undefined, bob)
    const del = (token: string): Promise<Response> => fetch(`${server.url}/api/media/${a.body.mediaId}`, { method: 'DELETE', headers: bearer(token) })

    assert.equal((await del(alice)).status, 204)
    assert.equal(await server.store.has(a.body.mediaId), true, "bob's record still holds the bytes")
    assert.equal((await fetch(`${server.url}/api/media/${a.body.mediaId}`)).status, 404, 'no longer public')
    assert.equal((await server.seeder.status(a.body.infoHash)).seeding, false, 'the public torrent is no longer seeded')
    assert.equal((await fetch(`${server.url}/api/media/${a.body.mediaId}`, { headers: bearer(bob) })).status, 200)
    assert.equal((await del(alice)).status, 404, 'alice has nothing left to delete')

    assert.equal((await del(bob)).status, 204)
    assert.equal(await server.store.has(a.body.mediaId), false)
  })

  test("the first public uploader deletes: the file stays public under the other public record, and its info shows that record's name", async () => {
    const alice = await signIn(server.url, await newIdentity())
    const bob = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(30_000, 112)
    const a = await upload(server.url, bytes, { access_level: 'public', name: "Alice's holiday" }, 'holiday.bin', 'application/octet-stream', alice)
    const claimed = await fetch(`${server.url}/api/media/${a.body.mediaId}/claim`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...bearer(bob) },
      body: JSON.stringify({ access_level: 'public', name: "Bob's copy" })
    })
    assert.equal(claimed.status, 201)
    const info = async (): Promise<any> => await (await fetch(`${server.url}/api/media/${a.body.mediaId}/info`)).json()
    assert.equal((await info()).name, "Alice's holiday", 'the first public record names it')

    assert.equal((await fetch(`${server.url}/api/media/${a.body.mediaId}`, { method: 'DELETE', headers: bearer(alice) })).status, 204)
    const bytesRes = await fetch(`${server.url}/api/media/${a.body.mediaId}`)
    assert.equal(bytesRes.status, 200, "public under bob's record, without a session")
    assert.equal(sha256(new Uint8Array(await bytesRes.arrayBuffer())), a.body.mediaId)
    const after = await info()
    assert.equal(after.name, "Bob's copy")
    assert.equal(after.accessLevel, 'public')
    // The torrent stays as it was, so its swarm and every signed record naming its infoHash stay valid.
    assert.deepEqual([after.infoHash, after.originalName], [a.body.infoHash, 'holiday.bin'])
    assert.equal((await server.seeder.status(a.body.infoHash)).seeding, true)
    const listed = (await (await fetch(`${server.url}/api/media`)).json()).items.find((i: any) => i.mediaId === a.body.mediaId)
    assert.equal(listed.name, "Bob's copy")
  })
})
