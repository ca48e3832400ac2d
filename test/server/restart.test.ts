import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

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
    assert.deepEqual(s.seeder.getAllSeeding().map(x => x.mediaId), [pub.mediaId])
    assert.equal(s.seeder.getSeedingInfo(priv.mediaId), undefined, 'the private file is not in the public swarm')
    assert.equal(s.seeder.status(priv.infoHash).seeding, true, "its owner's private torrent is seeded again")
    assert.equal(s.seeder.getStats().seedingCount, 2)
  })

  test('a damaged seeder.json does not stop the server: the state is rebuilt from the folders', async () => {
    const { dir, pub, priv, media } = await seeded()
    await fs.writeFile(path.join(media, 'seeder.json'), '{"version":1,"seeding":[{"mediaId":')
    const s = await restart(dir)
    assert.equal(s.seeder.getSeedingInfo(pub.mediaId)?.infoHash, pub.infoHash)
    assert.equal(s.seeder.getSeedingInfo(priv.mediaId), undefined, 'private files stay out of the swarm')
    const state = JSON.parse(await fs.readFile(path.join(media, 'seeder.json'), 'utf8'))
    assert.deepEqual(state.seeding.map((x: any) => x.mediaId), [pub.mediaId])
  })

  test('a damaged manifest is rebuilt from the stored torrent', async () => {
    const { dir, pub, media } = await seeded()
    await fs.writeFile(path.join(media, pub.mediaId, 'manifest.json'), 'not json')
    const s = await restart(dir)
    const i = await info(s, pub.mediaId)
    assert.equal(i.infoHash, pub.infoHash)
    assert.equal(i.fileSize, pub.fileSize)
    assert.equal(i.originalName, 'public.bin')
    const manifest = JSON.parse(await fs.readFile(path.join(media, pub.mediaId, 'manifest.json'), 'utf8'))
    assert.equal(manifest.infoHash, pub.infoHash)
    assert.equal((await fetch(`${s.url}/api/media/${pub.mediaId}`)).status, 200)
  })

  test('a lost .torrent is rebuilt from the stored bytes with the same infoHash', async () => {
    const { dir, pub, media } = await seeded()
    await fs.rm(path.join(media, pub.mediaId, 'torrent'))
    const s = await restart(dir)
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${s.url}/api/media/${pub.mediaId}/torrent`)).arrayBuffer()))
    assert.equal(torrent.infoHash, pub.infoHash)
    assert.equal(s.seeder.getSeedingInfo(pub.mediaId)?.infoHash, pub.infoHash)
  })

  test('uploads left in .incoming by a crash are removed at start', async () => {
    const { dir, pub, media } = await seeded()
    await fs.mkdir(path.join(media, '.incoming', 'deadbeef'), { recursive: true })
    await fs.writeFile(path.join(media, '.incoming', 'deadbeef', 'original'), randomBytesSeeded(1000))
    const s = await restart(dir)
    assert.deepEqual(await fs.readdir(path.join(media, '.incoming')), [])
    assert.equal((await fetch(`${s.url}/api/media/${pub.mediaId}`)).status, 200)
  })

  test('seeder.json is replaced atomically and lists what is seeded', async () => {
    const { dir, media } = await seeded()
    const s = await restart(dir)
    const more = await upload(s.url, randomBytesSeeded(30_000, 53))
    const state = JSON.parse(await fs.readFile(path.join(media, 'seeder.json'), 'utf8'))
    assert.ok(state.seeding.some((x: any) => x.mediaId === more.body.mediaId && x.infoHash === more.body.infoHash))
    assert.deepEqual((await fs.readdir(media)).filter(n => n.endsWith('.tmp')), [])
  })

  test("a seeder.json in the seed document's format (version 1, full SeedInfo entries) is still read", async () => {
    const { dir, pub, media } = await seeded()
    const file = path.join(media, 'seeder.json')
    const written = JSON.parse(await fs.readFile(file, 'utf8'))
    assert.equal(written.version, 2)
    const seedInfo = { mediaId: pub.mediaId, infoHash: pub.infoHash, magnetURI: pub.magnetURI, filePath: path.join(media, pub.mediaId, 'original'), createdAt: pub.createdAt, fileSize: pub.fileSize }
    await fs.writeFile(file, JSON.stringify({ version: 1, seeding: [seedInfo] }))
    const s = await restart(dir)
    const again = s.seeder.getSeedingInfo(pub.mediaId)
    assert.equal(again?.infoHash, pub.infoHash)
    // Rebuilt with its name and today's trackers (this restart listens on another port).
    assert.match(again!.magnetURI, new RegExp(`^magnet:\\?xt=urn:btih:${pub.infoHash}&dn=public\\.bin&tr=ws%3A%2F%2F127\\.0\\.0\\.1%3A${new URL(s.url).port}`))
    assert.equal((await info(s, pub.mediaId)).seeding.state, 'active')
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
