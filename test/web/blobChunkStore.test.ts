/**
 * The download store of the web app (web/lib/blobChunkStore.ts) in Node: it only needs Blob.
 * Pieces are put and read back the way WebTorrent does (abstract-chunk-store callbacks), with
 * small group and loose limits so a few KB exercise grouping, spilling and the finished file.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BlobChunkStore, blobChunkStore, type BlobChunkStoreLimits } from '../../web/lib/blobChunkStore.ts'
import { randomBytesSeeded } from '../helpers/server.ts'

const PIECE = 1000
/** 10 whole pieces and a short one: 11 pieces, the last 123 bytes. */
const LENGTH = 10 * PIECE + 123
const PIECES = Math.ceil(LENGTH / PIECE)
/** 3 pieces per Blob: groups 0-2, 3-5, 6-8 and 9-10 (the last group is short, as is its last piece). */
const LIMITS: BlobChunkStoreLimits = { groupBytes: 3 * PIECE, looseBytes: 1_000_000 }

const source = randomBytesSeeded(LENGTH, 7) as Uint8Array<ArrayBuffer>
const pieceOf = (bytes: Uint8Array<ArrayBuffer>, i: number, pieceLength = PIECE): Uint8Array<ArrayBuffer> =>
  bytes.slice(i * pieceLength, Math.min(bytes.length, (i + 1) * pieceLength))

function newStore (limits: BlobChunkStoreLimits = LIMITS, length = LENGTH, pieceLength = PIECE): BlobChunkStore {
  return new BlobChunkStore(pieceLength, { length }, limits)
}

function put (store: BlobChunkStore, index: number, buf: Uint8Array<ArrayBuffer>): Promise<void> {
  return new Promise((resolve, reject) => store.put(index, buf, err => { err ? reject(err) : resolve() }))
}

function get (store: BlobChunkStore, index: number, opts?: { offset?: number, length?: number }): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    store.get(index, opts ?? null, (err, data) => {
      if (err) return reject(err)
      assert.ok(data instanceof Uint8Array, `get(${index}) called back without bytes`)
      resolve(data)
    })
  })
}

async function putAll (store: BlobChunkStore, order: number[], bytes = source, pieceLength = PIECE): Promise<void> {
  for (const i of order) await put(store, i, pieceOf(bytes, i, pieceLength))
}

async function bytesOf (blob: Blob | undefined): Promise<Uint8Array> {
  assert.ok(blob instanceof Blob, 'blob() gave no Blob')
  return new Uint8Array(await blob.arrayBuffer())
}

/** A fixed shuffle (the same every run). */
function shuffled (n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i)
  const rnd = randomBytesSeeded(n, seed)
  for (let i = n - 1; i > 0; i--) {
    const j = rnd[i]! % (i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return order
}

/**
 * The store's private state, read to check which path a test took (bytes kept in the page or
 * handed to Blobs) and that its count of loose bytes matches what it holds.
 */
function internals (store: BlobChunkStore): { done: Array<Blob | undefined>, open: Map<number, { parts: Array<Uint8Array | Blob | { batch: Blob, at: number }>, count: number }>, loose: number } {
  return store as unknown as ReturnType<typeof internals>
}

function looseHeld (store: BlobChunkStore): number {
  let n = 0
  for (const g of internals(store).open.values()) for (const part of g.parts) if (part instanceof Uint8Array) n += part.length
  return n
}

describe('BlobChunkStore', () => {
  test('every piece, the short last one too, reads back exactly after in-order puts', async () => {
    const store = newStore()
    await putAll(store, Array.from({ length: PIECES }, (_, i) => i))
    for (let i = 0; i < PIECES; i++) assert.deepEqual(await get(store, i), pieceOf(source, i), `piece ${i}`)
    assert.equal((await get(store, PIECES - 1)).length, 123)
  })

  test('out-of-order puts: blob() stays undefined until the last piece, then is the file byte for byte', async () => {
    const store = newStore()
    const order = shuffled(PIECES, 3)
    assert.notDeepEqual(order, [...order].sort((a, b) => a - b), 'the shuffle should not be in order')
    for (const [n, i] of order.entries()) {
      assert.equal(store.blob('application/octet-stream'), undefined, `blob() before piece ${n + 1} of ${PIECES}`)
      await put(store, i, pieceOf(source, i))
    }
    const blob = store.blob('application/octet-stream')
    assert.equal(blob?.size, LENGTH)
    assert.deepEqual(await bytesOf(blob), source)
    for (let i = 0; i < PIECES; i++) assert.deepEqual(await get(store, i), pieceOf(source, i), `piece ${i}`)
  })

  test('blob() carries the type asked for, and each call gives the whole file', async () => {
    const store = newStore()
    await putAll(store, shuffled(PIECES, 5))
    const video = store.blob('video/webm')
    const audio = store.blob('audio/mpeg')
    assert.equal(video?.type, 'video/webm')
    assert.equal(audio?.type, 'audio/mpeg')
    assert.equal(store.blob('')?.type, '')
    assert.deepEqual(await bytesOf(video), source)
    assert.deepEqual(await bytesOf(audio), source)
  })

  test('get with offset and length, in an unfinished group (bytes) and in a finished one (Blob)', async () => {
    const store = newStore()
    // Group 0 (pieces 0-2) finished; group 1 holds only piece 4; group 3 only the short last piece.
    await putAll(store, [0, 1, 2, 4, 10])
    const { done, open } = internals(store)
    assert.ok(done[0] instanceof Blob, 'group 0 should be a Blob once its 3 pieces are in')
    assert.ok(open.get(1)?.parts[1] instanceof Uint8Array, 'piece 4 should still be bytes in its unfinished group')
    assert.ok(open.get(3)?.parts[1] instanceof Uint8Array, 'piece 10 should still be bytes in its unfinished group')

    for (const i of [1, 4, 10]) {
      const piece = pieceOf(source, i)
      const size = piece.length
      assert.deepEqual(await get(store, i), piece, `piece ${i} whole`)
      assert.deepEqual(await get(store, i, {}), piece, `piece ${i} with empty options`)
      assert.deepEqual(await get(store, i, { offset: 17 }), piece.subarray(17), `piece ${i} from 17 to the end`)
      assert.deepEqual(await get(store, i, { length: 50 }), piece.subarray(0, 50), `piece ${i} first 50`)
      assert.deepEqual(await get(store, i, { offset: 40, length: 60 }), piece.subarray(40, 100), `piece ${i} 40+60`)
      assert.deepEqual(await get(store, i, { offset: size - 1, length: 1 }), piece.subarray(size - 1), `piece ${i} last byte`)
      assert.deepEqual(await get(store, i, { offset: size, length: 0 }), new Uint8Array(0), `piece ${i} empty read at its end`)
    }
    // The form without options (WebTorrent calls get(index, cb) too).
    const data = await new Promise<Uint8Array>((resolve, reject) => store.get(4, (err, d) => { err ? reject(err) : resolve(d!) }))
    assert.deepEqual(data, pieceOf(source, 4))
  })

  test('many scattered pieces over a tiny loose limit spill into Blobs and still read back exactly', async () => {
    // 16 pieces per group, at most 2.5 pieces of loose bytes: every third put spills.
    const pieceLength = 256
    const length = 200 * pieceLength - 77
    const pieces = Math.ceil(length / pieceLength)
    const bytes = randomBytesSeeded(length, 11) as Uint8Array<ArrayBuffer>
    const limits = { groupBytes: 16 * pieceLength, looseBytes: 2.5 * pieceLength }
    const store = newStore(limits, length, pieceLength)
    const order = shuffled(pieces, 13)
    let spilled = 0
    for (const [n, i] of order.entries()) {
      await put(store, i, pieceOf(bytes, i, pieceLength))
      const { loose, open } = internals(store)
      assert.ok(loose <= limits.looseBytes, `after put ${n}: ${loose} loose bytes over the limit of ${limits.looseBytes}`)
      assert.equal(loose, looseHeld(store), `after put ${n}: the loose count differs from the bytes held`)
      for (const g of open.values()) for (const part of g.parts) if (part instanceof Blob) spilled++
      if (n < pieces - 1) assert.equal(store.blob('x/y'), undefined)
      // Read back a few pieces already in while most groups are unfinished (bytes and spilled Blobs alike).
      if (n % 37 === 0) {
        for (const j of order.slice(0, n + 1).filter((_, k) => k % 5 === 0)) {
          assert.deepEqual(await get(store, j, { offset: 3, length: 100 }), bytes.subarray(j * pieceLength + 3, j * pieceLength + 103), `piece ${j} after put ${n}`)
        }
      }
    }
    assert.ok(spilled > 0, 'no piece was ever spilled into a Blob: the test did not reach the spill path')
    assert.equal(internals(store).open.size, 0)
    assert.equal(internals(store).loose, 0)
    for (let i = 0; i < pieces; i++) assert.deepEqual(await get(store, i), pieceOf(bytes, i, pieceLength), `piece ${i}`)
    assert.deepEqual(await bytesOf(store.blob('application/octet-stream')), bytes)
  })

  test('a spilled piece of an unfinished group reads back exactly, with offset and length', async () => {
    const store = newStore({ groupBytes: 4 * PIECE, looseBytes: PIECE })
    // Pieces 0 and 5 are loose (2000 bytes > 1000): both become Blobs; piece 9 comes after the spill.
    await putAll(store, [0, 5, 9])
    const { open } = internals(store)
    assert.ok(open.get(0)?.parts[0] instanceof Blob, 'piece 0 should have spilled into a Blob')
    assert.ok(open.get(1)?.parts[1] instanceof Blob, 'piece 5 should have spilled into a Blob')
    for (const i of [0, 5, 9]) {
      assert.deepEqual(await get(store, i), pieceOf(source, i), `piece ${i}`)
      assert.deepEqual(await get(store, i, { offset: 900, length: 100 }), pieceOf(source, i).subarray(900, 1000), `piece ${i} 900+100`)
    }
    await putAll(store, [1, 2, 3, 4, 6, 7, 8, 10])
    assert.deepEqual(await bytesOf(store.blob('application/octet-stream')), source)
  })

  test('a group larger than the file and a group smaller than a piece both work', async () => {
    for (const groupBytes of [10 * LENGTH, 1, PIECE - 1, PIECE, PIECE + 1]) {
      const store = newStore({ groupBytes, looseBytes: 1_000_000 })
      const order = shuffled(PIECES, groupBytes)
      await putAll(store, order.slice(0, -1))
      assert.equal(store.blob('a/b'), undefined, `groupBytes ${groupBytes}: blob() before the last piece`)
      await putAll(store, order.slice(-1))
      assert.deepEqual(await bytesOf(store.blob('a/b')), source, `groupBytes ${groupBytes}`)
      for (let i = 0; i < PIECES; i++) assert.deepEqual(await get(store, i), pieceOf(source, i), `groupBytes ${groupBytes}, piece ${i}`)
    }
  })

  test('a put of the wrong size is refused with a clear error and stores nothing', async () => {
    const store = newStore()
    await assert.rejects(put(store, 3, new Uint8Array(PIECE - 1)), { message: 'chunk 3 of 999 bytes does not fit this store' })
    await assert.rejects(put(store, 3, new Uint8Array(PIECE + 1)), { message: 'chunk 3 of 1001 bytes does not fit this store' })
    // The last piece is short: a whole-length buffer does not fit it, its own size does.
    await assert.rejects(put(store, PIECES - 1, new Uint8Array(PIECE)), { message: `chunk ${PIECES - 1} of ${PIECE} bytes does not fit this store` })
    await assert.rejects(get(store, 3), { message: 'chunk 3 is not in the store' })
    await assert.rejects(get(store, PIECES - 1), { message: `chunk ${PIECES - 1} is not in the store` })
    await put(store, PIECES - 1, pieceOf(source, PIECES - 1))
    assert.deepEqual(await get(store, PIECES - 1), pieceOf(source, PIECES - 1))
  })

  test('out-of-range indexes and offsets are refused with clear errors', async () => {
    const store = newStore()
    await putAll(store, Array.from({ length: PIECES }, (_, i) => i))
    await assert.rejects(put(store, -1, new Uint8Array(PIECE)), { message: 'chunk -1 of 1000 bytes does not fit this store' })
    await assert.rejects(put(store, PIECES, new Uint8Array(PIECE)), { message: `chunk ${PIECES} of 1000 bytes does not fit this store` })
    await assert.rejects(put(store, PIECES, new Uint8Array(0)), { message: `chunk ${PIECES} of 0 bytes does not fit this store` })
    await assert.rejects(get(store, -1), /^Error: chunk -1 \(offset 0, length 0\) is out of range$/)
    await assert.rejects(get(store, PIECES), { message: `chunk ${PIECES} (offset 0, length 0) is out of range` })
    await assert.rejects(get(store, 2, { offset: 1, length: PIECE }), { message: 'chunk 2 (offset 1, length 1000) is out of range' })
    await assert.rejects(get(store, 2, { offset: -1, length: 10 }), { message: 'chunk 2 (offset -1, length 10) is out of range' })
    await assert.rejects(get(store, PIECES - 1, { offset: 100, length: 24 }), { message: `chunk ${PIECES - 1} (offset 100, length 24) is out of range` })
    assert.deepEqual(await get(store, PIECES - 1, { offset: 100, length: 23 }), pieceOf(source, PIECES - 1).subarray(100))
  })

  test('an offset past the end of the piece, or a negative length, is out of range (not an empty or shortened read)', async () => {
    const store = newStore()
    await putAll(store, [0, 1, 2, 4]) // piece 1 in a finished group (Blob), piece 4 loose (bytes)
    for (const i of [1, 4]) {
      // No length: it defaults to what is left of the piece, here -1.
      await assert.rejects(get(store, i, { offset: PIECE + 1 }), { message: `chunk ${i} (offset ${PIECE + 1}, length -1) is out of range` })
      // slice() takes a negative end from the end: this read 995 bytes instead of failing.
      await assert.rejects(get(store, i, { offset: 0, length: -5 }), { message: `chunk ${i} (offset 0, length -5) is out of range` })
    }
  })

  test('get of a piece not put yet says so, in an unfinished group and in an empty one', async () => {
    const store = newStore()
    await putAll(store, [0, 2])
    await assert.rejects(get(store, 1), { message: 'chunk 1 is not in the store' })
    await assert.rejects(get(store, 7), { message: 'chunk 7 is not in the store' })
    await assert.rejects(get(store, 1, { offset: 10, length: 10 }), { message: 'chunk 1 is not in the store' })
  })

  test('close: later puts and gets fail with "store is closed"; destroy also drops the pieces', async () => {
    const store = newStore()
    await putAll(store, Array.from({ length: PIECES }, (_, i) => i))
    await new Promise<void>((resolve, reject) => store.close(err => { err ? reject(err) : resolve() }))
    await assert.rejects(put(store, 0, pieceOf(source, 0)), { message: 'store is closed' })
    await assert.rejects(get(store, 0), { message: 'store is closed' })
    await assert.rejects(get(store, 0, { offset: 1, length: 1 }), { message: 'store is closed' })
    await assert.rejects(get(store, PIECES + 5), { message: 'store is closed' })

    const other = newStore()
    await putAll(other, [0, 1, 2, 4])
    await new Promise<void>((resolve, reject) => other.destroy(err => { err ? reject(err) : resolve() }))
    await assert.rejects(get(other, 0), { message: 'store is closed' })
    await assert.rejects(put(other, 3, pieceOf(source, 3)), { message: 'store is closed' })
    assert.equal(other.blob('a/b'), undefined)
    assert.equal(internals(other).open.size, 0)
    assert.equal(internals(other).loose, 0)
    // close and destroy without a callback, and twice, do not throw.
    other.close()
    other.destroy()
  })

  test('callbacks are never called synchronously, and put/get work without one', async () => {
    const store = newStore()
    let calls = 0
    store.put(0, pieceOf(source, 0), () => { calls++ })
    store.put(0, new Uint8Array(1), () => { calls++ })
    store.get(0, () => { calls++ })
    store.get(99, () => { calls++ })
    store.close(() => { calls++ })
    assert.equal(calls, 0, 'a callback ran before put/get/close returned')
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(calls, 5)

    const quiet = newStore()
    quiet.put(0, pieceOf(source, 0))
    quiet.put(0, new Uint8Array(1)) // an error with nowhere to go is dropped, not thrown
    quiet.get(0, null)
    quiet.get(0, { offset: 1 })
    quiet.get(99, null)
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(await get(quiet, 0), pieceOf(source, 0))
  })

  test('mutating the bytes get returned does not change the store', async () => {
    const store = newStore()
    await putAll(store, [0, 1, 2, 4]) // group 0 finished (Blob), piece 4 loose
    for (const i of [1, 4]) {
      const first = await get(store, i)
      first.fill(0xee)
      const part = await get(store, i, { offset: 10, length: 10 })
      part.fill(0xdd)
      assert.deepEqual(await get(store, i), pieceOf(source, i), `piece ${i} changed through a returned buffer`)
    }
    await putAll(store, [3, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(await bytesOf(store.blob('a/b')), source)
  })

  test('a duplicate put is harmless, before and after its group is finished', async () => {
    const store = newStore()
    await put(store, 4, pieceOf(source, 4))
    await put(store, 4, pieceOf(source, 4)) // same piece again while its group is open
    assert.equal(internals(store).open.get(1)?.count, 1, 'a duplicate counted twice towards its group')
    assert.equal(internals(store).loose, PIECE, 'a duplicate counted twice as loose bytes')
    await putAll(store, [3, 5]) // group 1 done with 3 puts, not 2
    assert.ok(internals(store).done[1] instanceof Blob)
    await put(store, 5, pieceOf(source, 5)) // again after the group became a Blob
    await putAll(store, [0, 1, 2, 6, 7, 8, 9, 10, 10, 0])
    assert.equal(internals(store).loose, 0)
    const blob = store.blob('a/b')
    assert.equal(blob?.size, LENGTH)
    assert.deepEqual(await bytesOf(blob), source)
  })

  test('a group cannot finish early on duplicates: each slot counts once', async () => {
    const store = newStore()
    await putAll(store, [0, 0, 0, 1, 1])
    assert.equal(internals(store).done[0], undefined, 'group 0 finished with only 2 of its 3 pieces')
    await assert.rejects(get(store, 2), { message: 'chunk 2 is not in the store' })
    await put(store, 2, pieceOf(source, 2))
    assert.ok(internals(store).done[0] instanceof Blob)
  })

  test('putPieces (a web seed worker\'s batches): a whole group is kept as it is, stretches fill groups beside bytes, and all reads back exactly', async () => {
    const store = newStore()
    const batch = (from: number, count: number): Blob => new Blob([source.slice(from * PIECE, Math.min(LENGTH, (from + count) * PIECE))])
    const whole = batch(0, 3)
    assert.equal(store.putPieces(0, 3, whole), undefined)
    assert.equal(internals(store).done[0], whole, 'a batch that is a whole group should become the group itself')
    // Pieces 4-7 span two groups; piece 3 comes as bytes (a peer), 8 and 9-10 as more batches.
    assert.equal(store.putPieces(4, 4, batch(4, 4)), undefined)
    assert.deepEqual(await get(store, 5), pieceOf(source, 5), 'a piece of a stretch, its group unfinished')
    assert.deepEqual(await get(store, 7, { offset: 10, length: 20 }), pieceOf(source, 7).subarray(10, 30))
    assert.equal(store.blob(''), undefined)
    // Group 1 is piece 3's bytes and one stretch of the 4-7 batch: one slice, not one per piece.
    const slice = Blob.prototype.slice
    let slices = 0
    Blob.prototype.slice = function (...args) { slices++; return slice.apply(this, args) }
    try {
      await put(store, 3, pieceOf(source, 3))
    } finally {
      Blob.prototype.slice = slice
    }
    assert.ok(internals(store).done[1] instanceof Blob)
    assert.equal(slices, 1)
    assert.equal(store.putPieces(8, 1, batch(8, 1)), undefined)
    assert.equal(store.putPieces(9, 2, batch(9, 2)), undefined)
    assert.equal(internals(store).loose, 0)
    assert.equal(internals(store).open.size, 0)
    assert.deepEqual(await bytesOf(store.blob('')), source)
    for (let i = 0; i < PIECES; i++) assert.deepEqual(await get(store, i), pieceOf(source, i), `piece ${i}`)
  })

  test('putPieces of the wrong size, outside the store or on a closed store is refused and stores nothing; over pieces it has, harmless', async () => {
    const store = newStore()
    const bytes = (from: number, to: number): Blob => new Blob([source.slice(from * PIECE, Math.min(LENGTH, to * PIECE))])
    assert.match(store.putPieces(0, 2, bytes(0, 3))?.message ?? '', /2 chunks from 0 in 3000 bytes do not fit this store/)
    assert.match(store.putPieces(10, 2, bytes(10, 11))?.message ?? '', /do not fit this store/)
    assert.match(store.putPieces(-1, 1, bytes(0, 1))?.message ?? '', /do not fit this store/)
    assert.match(store.putPieces(3, 0, new Blob([]))?.message ?? '', /do not fit this store/)
    assert.equal(internals(store).open.size, 0)
    await put(store, 1, pieceOf(source, 1))
    assert.equal(store.putPieces(0, 3, bytes(0, 3)), undefined)
    assert.equal(store.putPieces(0, 3, bytes(0, 3)), undefined)
    assert.equal(internals(store).loose, 0, 'piece 1 went into its group\'s Blob and is no longer counted as loose bytes')
    assert.deepEqual(await get(store, 1), pieceOf(source, 1))
    store.close()
    assert.match(store.putPieces(3, 1, bytes(3, 4))?.message ?? '', /store is closed/)
  })

  test('blobChunkStore() hands back the store WebTorrent constructed, with the default limits', async () => {
    const { Store, made } = blobChunkStore()
    assert.equal(made(), undefined)
    const pieceLength = 16 * 1024
    const length = 3 * pieceLength + 5
    const bytes = randomBytesSeeded(length, 17) as Uint8Array<ArrayBuffer>
    const store = new Store(pieceLength, { length })
    assert.equal(made(), store)
    assert.ok(store instanceof BlobChunkStore)
    assert.equal(store.chunkLength, pieceLength)
    await putAll(store, [3, 1, 0], bytes, pieceLength)
    // 16 MiB groups: the four pieces are one group, unfinished until the last one.
    assert.equal(internals(store).done.length, 0)
    assert.equal(store.blob('a/b'), undefined)
    await putAll(store, [2], bytes, pieceLength)
    assert.deepEqual(await bytesOf(store.blob('a/b')), bytes)
    // Each call makes a store of its own.
    const second = blobChunkStore()
    const other = new second.Store(pieceLength, { length })
    assert.equal(second.made(), other)
    assert.equal(made(), store)
  })
})
