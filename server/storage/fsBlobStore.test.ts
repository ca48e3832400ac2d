import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { badIds, blobStoreContract, manifestOf, sha256, store } from '../../test/helpers/blobStoreContract.ts'
import { stagingName } from '../server.ts'
import { FsBlobStore } from './fsBlobStore.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-blobstore-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })
const blobs = new FsBlobStore(dir)
await blobs.init()

blobStoreContract(blobs)

const bytes = randomBytes(1000)
const id = sha256(bytes)
await store(blobs, bytes)

test('location is the blob\'s file; isLocation accepts it in any spelling and nothing else', () => {
  const location = blobs.location(id)
  assert.equal(location, path.join(dir, id, 'original'))
  assert.equal(blobs.isLocation(location, id), true)
  assert.equal(blobs.isLocation(path.join(dir, '.', id, '..', id, 'original'), id), true)
  assert.equal(blobs.isLocation(location, 'f'.repeat(64)), false)
  assert.equal(blobs.isLocation(path.join(dir, id, 'manifest.json'), id), false)
  assert.equal(blobs.isLocation('/etc/passwd', id), false)
  for (const bad of badIds(id)) assert.equal(blobs.isLocation(path.join(dir, bad, 'original'), bad), false, bad)
})

test('nodes sharing MEDIA_DIR: a start removes its own previous run\'s staging and another\'s abandoned one, never another\'s upload in flight', async () => {
  const shared = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-blobstore-shared-'))
  const incoming = path.join(shared, '.incoming')
  const staged = async (): Promise<string[]> => (await fs.readdir(incoming)).sort()
  const grace = 3_600_000
  const node = (url: string): FsBlobStore => new FsBlobStore(shared, { node: url, stagingGraceMs: grace })
  try {
    const a = node('http://10.0.0.11:3000')
    await a.init()
    const inFlight = await a.begin()
    const bytes = randomBytes(5000)
    await inFlight.file.write(bytes.subarray(0, 2000), 0, false)
    const aStaging = await staged()
    // Node c crashed two hours ago with an upload in flight.
    const c = node('http://10.0.0.13:3000')
    await c.init()
    await (await c.begin()).file.write(randomBytes(100), 0, false)
    const cStaging = (await staged()).find(n => !aStaging.includes(n))!
    const longAgo = new Date(Date.now() - 2 * grace)
    await fs.utimes(path.join(incoming, cStaging, 'original'), longAgo, longAgo)
    await fs.utimes(path.join(incoming, cStaging), longAgo, longAgo)

    const b = node('http://10.0.0.12:3000')
    assert.equal((await b.init()).sweptIncoming, 1, 'c\'s abandoned upload is removed')
    assert.deepEqual(await staged(), aStaging, 'a\'s upload in flight is kept')
    assert.equal(await b.collectStaging(grace), 0)
    await inFlight.file.write(bytes.subarray(2000), 2000, false)
    assert.equal(await inFlight.commit(manifestOf(bytes), new Uint8Array([1])), 'created')
    assert.deepEqual(await fs.readFile(b.location(sha256(bytes))), bytes, 'b serves what a staged')

    // a's run dies with an upload in flight: a's next start removes it at once, however fresh.
    await (await a.begin()).file.write(randomBytes(100), 0, false)
    assert.equal((await node('http://10.0.0.11:3000').init()).sweptIncoming, 1)
    assert.deepEqual(await staged(), [])
  } finally {
    await fs.rm(shared, { recursive: true, force: true })
  }
})

test('an upload in flight stays however long its body is silent: its node touches it; once that node is gone, it goes after the grace', async () => {
  const shared = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-blobstore-slow-'))
  const incoming = path.join(shared, '.incoming')
  const grace = 3_600_000
  const a = new FsBlobStore(shared, { node: 'http://10.0.0.11:3000', stagingGraceMs: grace })
  const b = new FsBlobStore(shared, { node: 'http://10.0.0.12:3000', stagingGraceMs: grace })
  try {
    await a.init()
    await b.init()
    const slow = await a.begin()
    await slow.file.write(randomBytes(100), 0, false)
    const [staging] = await fs.readdir(incoming)
    // Its last bytes came two hours ago (a very slow body, written in 1 MiB batches).
    const writtenLongAgo = async (): Promise<void> => {
      const longAgo = new Date(Date.now() - 2 * grace)
      await fs.utimes(path.join(incoming, staging!, 'original'), longAgo, longAgo)
      await fs.utimes(path.join(incoming, staging!), longAgo, longAgo)
    }
    await writtenLongAgo()
    await a.touchInFlight() // a's timer, every quarter of the grace
    assert.equal(await b.collectStaging(grace), 0, 'a runs: its upload stays')
    // a died (nobody touches it any more): abandoned.
    await writtenLongAgo()
    assert.equal(await b.collectStaging(grace), 1)
    assert.deepEqual(await fs.readdir(incoming), [])
  } finally {
    await a.close()
    await b.close()
    await fs.rm(shared, { recursive: true, force: true })
  }
})

test('the staging name of a node: NODE_URL; on PostgreSQL without it, one of its own per start (nodes behind one proxy share PUBLIC_URL); PUBLIC_URL for the one SQLite node', () => {
  const shared = { nodeUrl: undefined, databaseUrl: 'postgres://db/oip', publicUrl: 'https://media.example.org' }
  assert.notEqual(stagingName(shared), stagingName(shared), 'two nodes behind one proxy')
  assert.equal(stagingName({ ...shared, nodeUrl: 'http://10.0.0.2:3000' }), 'http://10.0.0.2:3000')
  assert.equal(stagingName({ ...shared, databaseUrl: undefined }), 'https://media.example.org')
})
