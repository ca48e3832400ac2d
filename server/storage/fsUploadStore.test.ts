import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { FsUploadStore } from './fsUploadStore.ts'

const MiB = 1024 * 1024
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-uploadstore-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

test('after a crash, an upload is cut back to the last size acknowledged, holes and all', async () => {
  const store = new FsUploadStore(dir)
  await store.init()
  const id = randomBytes(16).toString('hex')
  await store.create(id, { id })
  const bytes = randomBytes(4 * MiB)
  const file = await store.append(id)
  await file.write(bytes.subarray(0, 2 * MiB), 0, false)
  await store.acknowledge(id, 2 * MiB)
  // The crash: of the next request's writes, the second landed and the first did not.
  await file.write(bytes.subarray(3 * MiB), 3 * MiB, false)
  await file.close()
  assert.equal(await store.size(id), 4 * MiB)

  const { uploads } = await new FsUploadStore(dir).init()
  assert.deepEqual(uploads.find(u => u.id === id)?.size, 2 * MiB)
  assert.equal(await store.size(id), 2 * MiB)
  assert.ok((await fs.readFile(store.dataPath(id))).equals(bytes.subarray(0, 2 * MiB)))
})

test('an acknowledged size that shrinks or grows by digits is read back exactly, and an upload without one keeps its bytes', async () => {
  const store = new FsUploadStore(dir)
  const id = randomBytes(16).toString('hex')
  await store.create(id, { id })
  const file = await store.append(id)
  await file.write(randomBytes(1000), 0, false)
  await file.close()
  await store.acknowledge(id, 999)
  await store.acknowledge(id, 7)
  assert.equal((await new FsUploadStore(dir).init()).uploads.find(u => u.id === id)?.size, 7)

  // Kept by an older version: no offset file, the bytes on disk count.
  const legacy = randomBytes(16).toString('hex')
  await store.create(legacy, { id: legacy })
  await fs.rm(path.join(dir, '.uploads', legacy, 'offset'))
  await fs.writeFile(store.dataPath(legacy), randomBytes(5000))
  assert.equal((await new FsUploadStore(dir).init()).uploads.find(u => u.id === legacy)?.size, 5000)
})
