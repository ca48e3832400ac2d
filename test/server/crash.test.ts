import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { randomBytesSeeded, tempDir, upload } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

async function kill9 (p: ServerProcess): Promise<void> {
  p.child.kill('SIGKILL')
  await p.exited
}

/** Every media folder holds exactly a complete, verified blob. */
async function assertOnlyCompleteBlobs (media: string): Promise<string[]> {
  const ids = (await fs.readdir(media)).filter(n => /^[0-9a-f]{64}$/.test(n))
  for (const id of ids) {
    assert.deepEqual((await fs.readdir(path.join(media, id))).sort(), ['manifest.json', 'original', 'torrent'], id)
    assert.equal(sha256(await fs.readFile(path.join(media, id, 'original'))), id)
    const manifest = JSON.parse(await fs.readFile(path.join(media, id, 'manifest.json'), 'utf8'))
    const torrent = await parseTorrent(await fs.readFile(path.join(media, id, 'torrent')))
    assert.equal(torrent.infoHash, manifest.infoHash)
  }
  assert.deepEqual(await fs.readdir(path.join(media, '.incoming')), [])
  return ids
}

describe('kill -9', () => {
  const dirs: string[] = []
  const running: ServerProcess[] = []
  after(async () => {
    for (const p of running) if (p.child.exitCode === null) await kill9(p)
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })

  test('during an upload leaves nothing of it; after a restart the server serves what it had and takes the upload again', { timeout: 60_000 }, async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const media = path.join(dir, 'media')
    let server = await spawnServer(dir)
    running.push(server)
    const kept = randomBytesSeeded(100_000, 61)
    assert.equal((await upload(server.url, kept)).status, 201)

    // Start a 4 MB upload, send half, and wait until the server has staged some of it.
    const bytes = randomBytesSeeded(4_000_000, 62)
    const body = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes, filename: 'cut.bin' } }])
    const req = http.request(`${server.url}/api/media/upload`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length }
    })
    req.on('error', () => {})
    req.write(body.subarray(0, 2_000_000))
    let staged = 0
    for (let i = 0; i < 200 && staged === 0; i++) {
      await sleep(25)
      for (const d of await fs.readdir(path.join(media, '.incoming'))) {
        staged += (await fs.stat(path.join(media, '.incoming', d, 'original')).catch(() => ({ size: 0 }))).size
      }
    }
    assert.ok(staged > 0, 'the upload was in flight when the server died')
    await kill9(server)
    req.destroy()

    server = await spawnServer(dir)
    running.push(server)
    const ids = await assertOnlyCompleteBlobs(media)
    assert.deepEqual(ids, [sha256(kept)])
    const served = await fetch(`${server.url}/api/media/${sha256(kept)}`)
    assert.deepEqual(new Uint8Array(await served.arrayBuffer()), kept)
    assert.equal((await (await fetch(`${server.url}/api/media/${sha256(kept)}/info`)).json()).seeding.seeding, true)

    const again = await upload(server.url, bytes, { access_level: 'public' }, 'cut.bin')
    assert.equal(again.status, 201)
    assert.equal(again.body.mediaId, sha256(bytes))
    await kill9(server)
  })

  test('at random moments during a stream of uploads leaves only complete, verified blobs', { timeout: 120_000 }, async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const media = path.join(dir, 'media')
    let seed = 100
    for (let round = 0; round < 3; round++) {
      const server = await spawnServer(dir)
      running.push(server)
      await assertOnlyCompleteBlobs(media)
      let stop = false
      let answered = 0
      const uploads = (async () => {
        while (!stop) {
          const size = 20_000 + (seed * 7919) % 400_000
          if ((await upload(server.url, randomBytesSeeded(size, seed++)).catch(() => undefined))?.status === 201) answered++
        }
      })()
      // The first round kills only after an upload was answered, however slow the machine is.
      while (round === 0 && answered === 0) await sleep(20)
      await sleep(150 + (round * 137) % 300)
      await kill9(server)
      stop = true
      await uploads
    }
    const last = await spawnServer(dir)
    running.push(last)
    const ids = await assertOnlyCompleteBlobs(media)
    assert.ok(ids.length > 0, 'some uploads completed before the kills')
    await kill9(last)
  })
})


/**
 * kill -9 at each step between two writes that belong together (server/ops/crashPoint.ts): the
 * real server dies exactly there, and the next start must leave a consistent state.
 */
describe('kill -9 at each crash point', () => {
  const dirs: string[] = []
  const running: ServerProcess[] = []
  after(async () => {
    for (const p of running) if (p.child.exitCode === null) await kill9(p)
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })

  /** A server over `dir` that dies at `point`, and after it one that does not (grace 1 s for orphan blobs). */
  async function start (dir: string, point?: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const server = await spawnServer(dir, { ORPHAN_BLOB_GRACE: '1s', ...(point ? { OIP_CRASH_AT: point } : {}), ...env })
    running.push(server)
    return server
  }
  async function newDir (): Promise<{ dir: string, media: string }> {
    const dir = await tempDir()
    dirs.push(dir)
    return { dir, media: path.join(dir, 'media') }
  }
  /** The request that reaches the crash point never gets an answer; the process is gone. */
  async function diesDuring (server: ServerProcess, request: Promise<unknown>): Promise<void> {
    await request.then(() => assert.fail('the server answered instead of dying at its crash point'), () => {})
    assert.equal(await server.exited, null, 'killed by a signal')
  }
  const exists = async (file: string): Promise<boolean> => await fs.stat(file).then(() => true, () => false)
  async function until (what: string, check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (await check()) return
      await sleep(50)
    }
    assert.fail(`never happened: ${what}`)
  }
  /** The files seeder.json lists (none while it is not written yet). */
  const seededIds = async (media: string): Promise<string[]> =>
    await fs.readFile(path.join(media, 'seeder.json'), 'utf8').then(text => JSON.parse(text).seeding.map((s: { mediaId: string }) => s.mediaId)).catch(() => [])

  test('after publish, before the record: the blob nobody holds is collected after the grace period', { timeout: 60_000 }, async () => {
    const { dir, media } = await newDir()
    const bytes = randomBytesSeeded(80_000, 901)
    const id = sha256(bytes)
    const dying = await start(dir, 'after-publish')
    await diesDuring(dying, upload(dying.url, bytes))
    assert.ok(await exists(path.join(media, id, 'original')), 'the blob was published before the crash')

    const server = await start(dir)
    await until('the orphan blob is collected', async () => !await exists(path.join(media, id)))
    assert.equal((await fetch(`${server.url}/api/media/${id}`)).status, 404)
    const again = await upload(server.url, bytes)
    assert.equal(again.status, 201)
    assert.equal((await (await fetch(`${server.url}/api/media/${id}/info`)).json()).seeding.seeding, true)
    await kill9(server)
  })

  test('after the record, before the seeding state: the file is seeded after the restart', { timeout: 60_000 }, async () => {
    const { dir, media } = await newDir()
    const bytes = randomBytesSeeded(80_000, 902)
    const id = sha256(bytes)
    const dying = await start(dir, 'after-record')
    await diesDuring(dying, upload(dying.url, bytes))

    const server = await start(dir)
    const info = await (await fetch(`${server.url}/api/media/${id}/info`)).json()
    assert.equal(info.seeding.seeding, true)
    await until('seeder.json has it again', async () => (await seededIds(media)).includes(id))
    await kill9(server)
  })

  test('in a delete, after the database: the torrent stops and the blob is collected after the restart', { timeout: 60_000 }, async () => {
    const { dir, media } = await newDir()
    const bytes = randomBytesSeeded(80_000, 903)
    const id = sha256(bytes)
    const dying = await start(dir, 'mid-delete')
    const token = await signIn(dying.url, await newIdentity())
    assert.equal((await upload(dying.url, bytes, { access_level: 'public' }, 'gone.bin', undefined, token)).status, 201)
    await until('seeder.json lists it', async () => (await seededIds(media)).includes(id))
    await diesDuring(dying, fetch(`${dying.url}/api/media/${id}`, { method: 'DELETE', headers: bearer(token) }))

    const server = await start(dir)
    assert.equal((await fetch(`${server.url}/api/media/${id}/info`)).status, 404)
    await until('seeder.json no longer lists it', async () => !(await seededIds(media)).includes(id))
    await until('the blob is collected', async () => !await exists(path.join(media, id)))
    await kill9(server)
  })

  test("inside the transaction of the first public record (the face renamed, not committed): nothing public shows, no private name is on disk, and the next public upload works", { timeout: 60_000 }, async () => {
    const { dir, media } = await newDir()
    const bytes = randomBytesSeeded(80_000, 904)
    const id = sha256(bytes)
    const dying = await start(dir, 'in-record-transaction')
    const owner = await signIn(dying.url, await newIdentity())
    assert.equal((await upload(dying.url, bytes, { access_level: 'private' }, 'a-secret-name.pdf', 'application/pdf', owner)).status, 201)
    const onDisk = async (): Promise<string> => (await fs.readFile(path.join(media, id, 'manifest.json'), 'utf8')) + (await fs.readFile(path.join(media, id, 'torrent'))).toString('latin1')
    assert.doesNotMatch(await onDisk(), /a-secret-name/, 'a private upload stores a neutral face')
    await diesDuring(dying, upload(dying.url, bytes, { access_level: 'public' }, 'public-name.pdf', 'application/pdf'))

    const server = await start(dir)
    assert.doesNotMatch(await onDisk(), /a-secret-name/)
    assert.equal((await fetch(`${server.url}/api/media/${id}/info`)).status, 404, 'no public record was made')
    const again = await upload(server.url, bytes, { access_level: 'public' }, 'public-name.pdf', 'application/pdf')
    assert.equal(again.status, 201)
    const info = await (await fetch(`${server.url}/api/media/${id}/info`)).json()
    assert.equal(info.originalName, 'public-name.pdf')
    assert.equal(info.seeding.seeding, true)
    await assertOnlyCompleteBlobs(media)
    await kill9(server)
  })

  test('a start settles only the folders the journal names; bytes removed by hand are found by the first read; RECONCILE_ALL compares every folder and row', { timeout: 90_000 }, async () => {
    const { dir, media } = await newDir()
    let server = await start(dir)
    const keep = randomBytesSeeded(80_000, 905)
    const lost = randomBytesSeeded(80_000, 906)
    const [keepId, lostId] = [sha256(keep), sha256(lost)]
    assert.equal((await upload(server.url, keep)).status, 201)
    const ownerKey = await newIdentity()
    assert.equal((await upload(server.url, lost, { access_level: 'public' }, 'lost.bin', undefined, await signIn(server.url, ownerKey))).status, 201)
    await until('seeder.json lists both', async () => (await seededIds(media)).length === 2)
    await kill9(server)
    // A folder no step of ours made (copied in by hand), and a stored file's folder removed by hand.
    const strayId = 'ab'.repeat(32)
    await fs.cp(path.join(media, keepId), path.join(media, strayId), { recursive: true })
    await fs.rm(path.join(media, lostId), { recursive: true })
    // A crash between a publish and its record: the one folder the journal names.
    const orphan = randomBytesSeeded(80_000, 907)
    const dying = await start(dir, 'after-publish')
    await diesDuring(dying, upload(dying.url, orphan))

    server = await start(dir)
    await until('the noted orphan is collected', async () => !await exists(path.join(media, sha256(orphan))))
    assert.ok(await exists(path.join(media, strayId)), 'a start walks no folder the journal does not name')
    assert.equal((await fetch(`${server.url}/api/media/${lostId}`, { method: 'HEAD' })).status, 404, 'a HEAD asks the store')
    assert.equal((await fetch(`${server.url}/api/media/${lostId}`, { headers: { 'If-None-Match': `"${lostId}"` } })).status, 404, 'no 304 for bytes gone')
    const first = await fetch(`${server.url}/api/media/${lostId}`)
    assert.equal(first.status, 404, 'a read of bytes gone answers 404 before any byte, not a cut 200')
    assert.equal((await first.json()).error.code, 'not_found')
    await until('the file whose bytes are gone is marked missing', async () => (await fetch(`${server.url}/api/media/${lostId}/info`)).status === 404)
    assert.equal(sha256(new Uint8Array(await (await fetch(`${server.url}/api/media/${keepId}`)).arrayBuffer())), keepId)
    await kill9(server)

    // As if the database came back from a backup older than seeder.json: the file lists one more.
    const restored = JSON.parse(await fs.readFile(path.join(media, 'seeder.json'), 'utf8'))
    restored.seeding.push({ ...restored.seeding[0], mediaId: 'cd'.repeat(32) })
    await fs.writeFile(path.join(media, 'seeder.json'), JSON.stringify(restored))
    server = await start(dir, undefined, { RECONCILE_ALL: '1' })
    await until('seeder.json is written again from the database', async () => !(await seededIds(media)).includes('cd'.repeat(32)))
    assert.ok((await seededIds(media)).includes(keepId))
    // A removed folder is renamed into .incoming first, then deleted from there.
    await until('RECONCILE_ALL collects the stray folder', async () => !await exists(path.join(media, strayId)) && (await fs.readdir(path.join(media, '.incoming'))).length === 0)
    assert.equal((await fetch(`${server.url}/api/media/${lostId}/info`)).status, 404)
    await assertOnlyCompleteBlobs(media)
    const deleted = await fetch(`${server.url}/api/media/${lostId}`, { method: 'DELETE', headers: bearer(await signIn(server.url, ownerKey)) })
    assert.equal(deleted.status, 204, 'a file whose bytes are gone can still be deleted')
    await kill9(server)
  })
})
