import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { badIds, blobStoreContract, sha256, store } from '../../test/helpers/blobStoreContract.ts'
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
