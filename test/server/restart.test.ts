import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { SeederJsonMark } from '../../server/catalog/seederJsonMark.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { openServerDatabase, randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('restarting over the same data', () => {
  const dirs: string[] = []
  let server: TestServer | undefined
  after(async () => {
    await server?.close()
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })

  /** A data folder with one public and one private file, and the server that made it stopped. */
  async function seeded (): Promise<{ dir: string, pub: any, priv: any, media: string }> {
    const dir = await tempDir()
    dirs.push(dir)
    const first = await startTestServer({}, { dir })
    const pub = (await upload(first.url, randomBytesSeeded(200_000, 51), { access_level: 'public' }, 'public.bin')).body
    const token = await signIn(first.url, await newIdentity())
    const priv = (await upload(first.url, randomBytesSeeded(50_000, 52), { access_level: 'private' }, 'private.bin', undefined, token)).body
    await first.close()
    return { dir, pub, priv, media: path.join(dir, 'media') }
  }

  async function restart (dir: string): Promise<TestServer> {
    await server?.close()
    server = await startTestServer({}, { dir })
    return server
  }

  const info = async (s: TestServer, id: string): Promise<any> => await (await fetch(`${s.url}/api/media/${id}/info`)).json()

  test('public files are seeded again from the stored .torrent without hashing a piece', async () => {
    const { dir, pub, priv, media } = await seeded()
    // Flip one byte (same size). A verifying start would notice and drop that piece.
    const original = path.join(media, pub.mediaId, 'original')
    const handle = await fs.open(original, 'r+')
    await handle.write(Buffer.from([0xff ^ (await fs.readFile(original))[100_000]!]), 0, 1, 100_000)
    await handle.close()

    const s = await restart(dir)
    const status = (await info(s, pub.mediaId)).seeding
    assert.equal(status.seeding, true)
    assert.equal(status.progress, 1, 'all pieces offered straight from the stored torrent')
    assert.deepEqual((await s.seeder.getAllSeeding()).map(x => x.mediaId), [pub.mediaId])
    assert.equal((await s.seeder.getSeedingInfo(priv.mediaId)), undefined, 'the private file is not in the public swarm')
    assert.equal((await s.seeder.status(priv.infoHash)).seeding, true, "its owner's private torrent is seeded again")
    assert.equal((await s.seeder.getStats()).seedingCount, 2)
  })

  /** seeder.json once it is valid JSON listing these ids (it is a snapshot, written within seconds of a change). */
  async function snapshotListing (media: string, ids: string[]): Promise<any> {
    for (let i = 0; ; i++) {
      const state = await fs.readFile(path.join(media, 'seeder.json'), 'utf8').then(t => JSON.parse(t)).catch(() => undefined)
      const listed = state?.seeding?.map((x: any) => x.mediaId).sort()
      if (JSON.stringify(listed) === JSON.stringify([...ids].sort())) return state
      if (i > 300) assert.fail(`seeder.json never listed ${ids.join(', ')}: ${JSON.stringify(state)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  test('a damaged seeder.json does not stop the server: the database holds the seeding state, and the snapshot is written again', async () => {
    const { dir, pub, priv, media } = await seeded()
    await fs.writeFile(path.join(media, 'seeder.json'), '{"version":1,"seeding":[{"mediaId":')
    const s = await restart(dir)
    assert.equal((await s.seeder.getSeedingInfo(pub.mediaId))?.infoHash, pub.infoHash)
    assert.equal((await s.seeder.getSeedingInfo(priv.mediaId)), undefined, 'private files stay out of the swarm')
    const state = await snapshotListing(media, [pub.mediaId])
    assert.equal(state.version, 3)
    assert.ok(!JSON.stringify(state).includes(priv.infoHash), 'no private torrent in the snapshot')
  })

  test('a damaged manifest.json or a lost torrent file changes nothing: the face is in the database', async () => {
    const { dir, pub, media } = await seeded()
    await fs.writeFile(path.join(media, pub.mediaId, 'manifest.json'), 'not json')
    await fs.rm(path.join(media, pub.mediaId, 'torrent'))
    const s = await restart(dir)
    const i = await info(s, pub.mediaId)
    assert.equal(i.infoHash, pub.infoHash)
    assert.equal(i.fileSize, pub.fileSize)
    assert.equal(i.originalName, 'public.bin')
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${s.url}/api/media/${pub.mediaId}/torrent`)).arrayBuffer()))
    assert.equal(torrent.infoHash, pub.infoHash)
    assert.equal((await fetch(`${s.url}/api/media/${pub.mediaId}`)).status, 200)
  })

  test('uploads left in .incoming that nobody wrote to for ORPHAN_BLOB_GRACE are removed at start', async () => {
    // Not named as this node's (crash.test.ts has those, removed at once): another node's, or an
    // earlier version's, last written two hours ago (the grace is 1 h).
    const { dir, pub, media } = await seeded()
    const staging = path.join(media, '.incoming', 'deadbeef')
    await fs.mkdir(staging, { recursive: true })
    await fs.writeFile(path.join(staging, 'original'), randomBytesSeeded(1000))
    const longAgo = new Date(Date.now() - 2 * 3_600_000)
    await fs.utimes(path.join(staging, 'original'), longAgo, longAgo)
    await fs.utimes(staging, longAgo, longAgo)
    const s = await restart(dir)
    assert.deepEqual(await fs.readdir(path.join(media, '.incoming')), [])
    assert.equal((await fetch(`${s.url}/api/media/${pub.mediaId}`)).status, 200)
  })

  test('seeder.json is a snapshot of the public seeding state, replaced atomically after a change', async () => {
    const { dir, pub, media } = await seeded()
    const s = await restart(dir)
    const more = await upload(s.url, randomBytesSeeded(30_000, 53))
    const state = await snapshotListing(media, [pub.mediaId, more.body.mediaId])
    assert.ok(state.seeding.some((x: any) => x.mediaId === more.body.mediaId && x.infoHash === more.body.infoHash))
    assert.deepEqual((await fs.readdir(media)).filter(n => n.endsWith('.tmp')), [])
  })

  test('a restart rewrites seeder.json only when the database marks it stale: after a clean stop nothing per file is written', async () => {
    const { dir, pub, media } = await seeded()
    const file = path.join(media, 'seeder.json')
    const before = await fs.stat(file)
    let s = await restart(dir)
    assert.equal(s.seeder.snapshot.due, false, 'a clean stop left the snapshot up to date')
    await s.close()
    server = undefined
    assert.equal((await fs.stat(file)).ino, before.ino, 'seeder.json was not replaced')

    // A crash after a listing change, before the snapshot: an older, whole file, and the mark
    // the change's transaction wrote.
    await fs.writeFile(file, '{"version":3,"seeding":[]}')
    const database = await openServerDatabase(dir)
    await new SeederJsonMark(database.db).mark()
    await database.close()
    await restart(dir)
    await snapshotListing(media, [pub.mediaId])
  })

  test("a MEDIA_DIR in the seed's layout (folders with original and manifest.json, seeder.json version 1, no database) is imported on first start", async () => {
    const { dir, pub, priv, media } = await seeded()
    // What the seed leaves: no database, no torrent files; seeder.json lists what it seeded.
    for (const f of ['db.sqlite', 'db.sqlite-wal', 'db.sqlite-shm']) await fs.rm(path.join(dir, 'data', f), { force: true })
    assert.deepEqual((await fs.readdir(path.join(dir, 'data'))).filter(f => f.startsWith('db.')), [], 'no database left')
    for (const id of [pub.mediaId, priv.mediaId]) await fs.rm(path.join(media, id, 'torrent'))
    const seedInfo = { mediaId: pub.mediaId, infoHash: pub.infoHash, magnetURI: pub.magnetURI, filePath: path.join(media, pub.mediaId, 'original'), createdAt: pub.createdAt, fileSize: pub.fileSize }
    await fs.writeFile(path.join(media, 'seeder.json'), JSON.stringify({ version: 1, seeding: [seedInfo] }))
    const s = await restart(dir)
    const again = await s.seeder.getSeedingInfo(pub.mediaId)
    assert.equal(again?.infoHash, pub.infoHash, 'the torrent is rebuilt from the bytes with the same infoHash')
    // Rebuilt with its name and today's trackers (this restart listens on another port).
    assert.match(again!.magnetURI, new RegExp(`^magnet:\\?xt=urn:btih:${pub.infoHash}&dn=public\\.bin&tr=ws%3A%2F%2F127\\.0\\.0\\.1%3A${new URL(s.url).port}`))
    assert.equal((await info(s, pub.mediaId)).seeding.state, 'active')
    const listing = await (await fetch(`${s.url}/api/media`)).json()
    assert.deepEqual(listing.items.map((x: any) => x.mediaId), [pub.mediaId], 'public, held anonymously as the seed held it')
    // A folder seeder.json never listed (a private one) is not made public by the import.
    assert.equal((await fetch(`${s.url}/api/media/${priv.mediaId}`)).status, 404)
  })

  test('seedFile only seeds files from the store: a path in the seed layout in, the same path out', async () => {
    const { dir, pub, media } = await seeded()
    const s = await restart(dir)
    const original = path.join(media, pub.mediaId, 'original')
    await assert.rejects(s.seeder.seedFile('/etc/passwd', pub.mediaId), /not the stored file/)
    await assert.rejects(s.seeder.seedFile(original, 'a'.repeat(64)), /not the stored file/)
    const again = await s.seeder.seedFile(original, pub.mediaId)
    assert.equal(again.infoHash, pub.infoHash)
    assert.equal(again.fileSize, pub.fileSize)
    assert.equal(again.filePath, original)
    assert.equal(sha256(await fs.readFile(again.filePath)), pub.mediaId)
  })
})
