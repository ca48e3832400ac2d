import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
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
      const uploads = (async () => {
        while (!stop) {
          const size = 20_000 + (seed * 7919) % 400_000
          await upload(server.url, randomBytesSeeded(size, seed++)).catch(() => {})
        }
      })()
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

