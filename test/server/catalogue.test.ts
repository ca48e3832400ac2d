/**
 * The catalogue through a real server on both databases: what an upload, a claim, a pin, a
 * delete and a restart write is read back the same from SQLite and from PostgreSQL, and the
 * seeding state and listing come from the database (nothing per file in memory).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { describeEachDatabase } from '../helpers/postgres.ts'
import { createUpload } from '../helpers/tus.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describeEachDatabase('the catalogue', ({ newDatabase }) => {
  const dirs: string[] = []
  let server: TestServer | undefined
  after(async () => {
    await server?.close()
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })

  test('uploads, faces, pins, listing, deletes and a restart, all answered from the database', { timeout: 120_000 }, async () => {
    const { env } = await newDatabase()
    const dir = await tempDir()
    dirs.push(dir)
    server = await startTestServer(env, { dir })
    const aliceKey = await newIdentity()
    let alice = await signIn(server.url, aliceKey)
    const bob = await signIn(server.url, await newIdentity())

    // Private first (neutral face), then public under another name: the face takes the public name.
    const shared = randomBytesSeeded(70_000, 1901)
    const id = sha256(shared)
    assert.equal((await upload(server.url, shared, { access_level: 'private' }, 'alice-secret.txt', 'text/plain', alice)).status, 201)
    const pub = await upload(server.url, shared, { access_level: 'public' }, 'for-everyone.txt', 'text/plain', bob)
    assert.equal(pub.status, 201)
    const info = await (await fetch(`${server.url}/api/media/${id}/info`)).json()
    assert.equal(info.originalName, 'for-everyone.txt')
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${id}/torrent`)).arrayBuffer()))
    assert.equal(torrent.infoHash, info.infoHash)
    const mine = await (await fetch(`${server.url}/api/media/${id}/info`, { headers: bearer(alice) })).json()
    assert.equal(mine.originalName, 'alice-secret.txt', 'the private owner sees their own name')
    assert.notEqual(mine.infoHash, info.infoHash)

    // More public files, then the listing a page at a time by cursor, newest first.
    const more: string[] = []
    for (let i = 0; i < 5; i++) more.push((await upload(server.url, randomBytesSeeded(5_000, 1910 + i), { access_level: 'public' }, `more-${i}.bin`, undefined, bob)).body.mediaId)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: any = await (await fetch(`${server.url}/api/media?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()
      seen.push(...page.items.map((x: any) => x.mediaId))
      cursor = page.nextCursor
    } while (cursor)
    assert.deepEqual(seen, [...more].reverse().concat(id))
    assert.ok(!JSON.stringify(seen).includes('alice-secret'))
    assert.equal((await fetch(`${server.url}/api/media?cursor=not-a-cursor`)).status, 400)

    // Pins and the seeding state.
    const pinned = await (await fetch(`${server.url}/api/media/${id}/pin`, { method: 'PUT', headers: bearer(bob) })).json()
    assert.equal(pinned.pinned, true)
    assert.equal((await server.seeder.getStats('public')).seedingCount, 6)
    assert.equal((await server.seeder.getStats('all')).seedingCount, 7, "alice's private torrent counts for operators only")
    assert.deepEqual((await server.seeder.getAllSeeding()).map(s => s.mediaId).sort(), [id, ...more].sort())

    // Bob deletes his record: the file is no longer public, alice's private record still holds the bytes.
    assert.equal((await fetch(`${server.url}/api/media/${id}`, { method: 'DELETE', headers: bearer(bob) })).status, 204)
    assert.equal((await fetch(`${server.url}/api/media/${id}/info`)).status, 404)
    assert.equal((await fetch(`${server.url}/api/media/${id}`, { headers: bearer(alice) })).status, 200)
    assert.equal(await server.seeder.getSeedingInfo(id), undefined)

    // A restart reads it all back.
    await server.close()
    server = await startTestServer(env, { dir })
    // Sessions name the server's origin, and this one listens on another port.
    alice = await signIn(server.url, aliceKey)
    assert.equal((await fetch(`${server.url}/api/media/${id}/info`)).status, 404)
    const again = await (await fetch(`${server.url}/api/media/${id}/info`, { headers: bearer(alice) })).json()
    assert.equal(again.originalName, 'alice-secret.txt')
    assert.equal(again.seeding.seeding, true)
    assert.equal((await server.seeder.getStats('public')).seedingCount, 5)
    for (const m of more) assert.equal((await (await fetch(`${server.url}/api/media/${m}/info`)).json()).seeding.seeding, true)
    // Alice deletes the last record: the bytes go.
    assert.equal((await fetch(`${server.url}/api/media/${id}`, { method: 'DELETE', headers: bearer(alice) })).status, 204)
    await assert.rejects(fs.stat(path.join(dir, 'media', id)))
  })

  test('a name or description with NUL (PostgreSQL text cannot hold it) gets a 400 at every door, and nothing is stored', async () => {
    const { env } = await newDatabase()
    const dir = await tempDir()
    dirs.push(dir)
    await server?.close()
    server = await startTestServer(env, { dir })
    const token = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(20_000, 77)
    const refused = async (res: { status: number }, body: { error?: { code: string, message: string } }): Promise<void> => {
      assert.equal(res.status, 400)
      assert.equal(body.error?.code, 'bad_field')
      assert.match(body.error!.message, /NUL/)
    }
    const nul = await upload(server.url, bytes, { access_level: 'public', name: 'a\u0000b' }, 'x.bin', undefined, token)
    await refused(nul, nul.body)
    const nulDescription = await upload(server.url, bytes, { access_level: 'private', description: 'x\u0000' }, 'x.bin', undefined, token)
    await refused(nulDescription, nulDescription.body)
    assert.equal((await fetch(`${server.url}/api/media/${sha256(bytes)}`, { headers: bearer(token) })).status, 404)

    const stored = await upload(server.url, bytes, { access_level: 'public' }, 'x.bin')
    assert.equal(stored.status, 201)
    const claim = await fetch(`${server.url}/api/media/${stored.body.mediaId}/claim`, { method: 'POST', headers: { ...bearer(token), 'Content-Type': 'application/json' }, body: JSON.stringify({ access_level: 'public', name: 'n\u0000' }) })
    await refused(claim, await claim.json())
    const mine = await (await fetch(`${server.url}/api/media?owner=me`, { headers: bearer(token) })).json()
    assert.deepEqual(mine.items, [], 'no record was made')

    const { res } = await createUpload(server.url, token, 10, { filename: 'f.bin', access_level: 'public', name: 'tus\u0000' })
    await refused(res, await res.json())
    const named = await createUpload(server.url, token, 10, { filename: 'f\u0000.bin', access_level: 'public' })
    await refused(named.res, await named.res.json())
  })
})
