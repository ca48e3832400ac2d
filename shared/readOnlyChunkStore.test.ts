import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ReadOnlyChunkStore } from './readOnlyChunkStore.ts'

const BYTES = Uint8Array.from({ length: 2500 }, (_, i) => i % 251)
const Store = ReadOnlyChunkStore.over({ readAt: async (offset, length) => BYTES.slice(offset, offset + length) })

const get = async (store: ReadOnlyChunkStore, index: number, opts: { offset?: number, length?: number } | null = null): Promise<Uint8Array> =>
  await new Promise((resolve, reject) => store.get(index, opts, (err, buf) => err ? reject(err) : resolve(buf!)))

test('reads a chunk, part of one and the short last one from its source', async () => {
  const store = new Store(1000, { length: BYTES.length })
  assert.deepEqual(await get(store, 1), BYTES.subarray(1000, 2000))
  assert.deepEqual(await get(store, 1, { offset: 10, length: 5 }), BYTES.subarray(1010, 1015))
  assert.deepEqual(await get(store, 2), BYTES.subarray(2000))
})

test('refuses what lies outside a chunk with the same message as every store (chunkRange), and writes', async () => {
  const store = new Store(1000, { length: BYTES.length })
  await assert.rejects(get(store, -1), { message: 'chunk -1 (offset 0, length 0) is out of range' })
  await assert.rejects(get(store, 3), { message: 'chunk 3 (offset 0, length 0) is out of range' })
  await assert.rejects(get(store, 2, { offset: 0, length: 501 }), { message: 'chunk 2 (offset 0, length 501) is out of range' })
  await assert.rejects(get(store, 0, { offset: 0, length: -5 }), { message: 'chunk 0 (offset 0, length -5) is out of range' })
  await assert.rejects(new Promise((resolve, reject) => store.put(0, BYTES.subarray(0, 1000), err => err ? reject(err) : resolve(undefined))), /read-only/)
  store.close()
  await assert.rejects(get(store, 0), { message: 'store is closed' })
})
