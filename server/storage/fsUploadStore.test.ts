import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { FsUploadStore } from './fsUploadStore.ts'
import type { StoredUpload } from './uploadStore.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-uploadstore-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

const listed = async (store: FsUploadStore): Promise<Map<string, StoredUpload>> => {
  const all = new Map<string, StoredUpload>()
  for await (const upload of store.list()) all.set(upload.id, upload)
  return all
}

test('list() names every upload, with the record an older version kept beside its bytes; removeLegacy keeps the bytes', async () => {
  const store = new FsUploadStore(dir)
  await store.init()
  const [fresh, legacy, noOffset, unreadable] = Array.from({ length: 4 }, () => randomBytes(16).toString('hex')) as [string, string, string, string]
  for (const id of [fresh, legacy, noOffset, unreadable]) await store.create(id)
  const folder = (id: string): string => path.dirname(store.dataPath(id))
  await fs.writeFile(store.dataPath(legacy), randomBytes(5000))
  await fs.writeFile(path.join(folder(legacy), 'info.json'), JSON.stringify({ id: legacy, owner: 'k' }))
  // Older versions rewrote the offset in place as fixed-width text.
  await fs.writeFile(path.join(folder(legacy), 'offset'), '999'.padStart(20))
  await fs.writeFile(path.join(folder(noOffset), 'info.json'), JSON.stringify({ id: noOffset }))
  await fs.writeFile(path.join(folder(unreadable), 'info.json'), '{"id": "cut off')
  await fs.mkdir(path.join(dir, '.uploads', 'not-an-upload'))

  const all = await listed(store)
  assert.deepEqual([...all.keys()].sort(), [fresh, legacy, noOffset, unreadable].sort())
  assert.deepEqual(all.get(fresh), { id: fresh })
  assert.deepEqual(all.get(legacy)?.legacy, { info: { id: legacy, owner: 'k' }, acknowledged: 999 })
  assert.deepEqual(all.get(noOffset)?.legacy, { info: { id: noOffset } })
  assert.deepEqual(all.get(unreadable)?.legacy, { info: undefined })

  await store.removeLegacy(legacy)
  assert.deepEqual((await listed(store)).get(legacy), { id: legacy })
  assert.equal(await store.size(legacy), 5000)
  assert.deepEqual(await fs.readdir(folder(legacy)), ['data'])
})
