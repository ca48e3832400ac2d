import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { createSHA1 } from 'hash-wasm'
import { reusedHasherFactory, wasmSha1, wasmSha256 } from './hashWasm.ts'
import { buildTorrent, PieceHasher, pieceLength, type HasherFactory } from './torrent.ts'

const nodeFactory = (algorithm: string): HasherFactory => () => {
  const h = createHash(algorithm)
  return { update: data => { h.update(data) }, digest: () => new Uint8Array(h.digest()) }
}

/** Feed `bytes` to `update` in chunks of the given sizes, cycling through them. */
function feed (bytes: Uint8Array, sizes: number[], update: (chunk: Uint8Array) => void): void {
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const n = sizes[i % sizes.length]!
    update(bytes.subarray(offset, offset + n))
    offset += n
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('hash-wasm behind HasherFactory gives node:crypto\'s SHA-256 and SHA-1 pieces for odd chunk sizes', async () => {
  const [sha1, sha256] = [await wasmSha1(), await wasmSha256()]
  // Sizes around piece boundaries: empty, one byte, exactly one piece, one piece ± 1, many pieces with a tail.
  const piece = 16 * 1024
  for (const size of [0, 1, piece - 1, piece, piece + 1, 3 * piece + 777, 5 * 1024 * 1024 + 13]) {
    const bytes = randomBytes(size)
    const len = pieceLength(size)
    const chunkSizes = [1, 7, 4095, 65_537, len + 3, 1_000_003]

    const wasmPieces = new PieceHasher(len, sha1)
    const wasm256 = sha256()
    feed(bytes, chunkSizes, c => { wasmPieces.update(c); wasm256.update(c) })

    const nodePieces = new PieceHasher(len, nodeFactory('sha1'))
    nodePieces.update(bytes)

    assert.equal(hex(wasm256.digest()), createHash('sha256').update(bytes).digest('hex'), `SHA-256 of ${size} bytes`)
    assert.equal(hex(wasmPieces.digest()), hex(nodePieces.digest()), `SHA-1 pieces of ${size} bytes`)
  }
})

test('a torrent built with hash-wasm has the infoHash node:crypto gives (browser and server seed one swarm)', async () => {
  const bytes = randomBytes(2 * 1024 * 1024 + 5)
  const len = pieceLength(bytes.length)
  const built = (f: HasherFactory): string => {
    const p = new PieceHasher(len, f)
    feed(bytes, [12_345], c => p.update(c))
    return buildTorrent({ name: 'clip.mp4', length: bytes.length, pieceLength: len, pieces: p.digest() },
      { announce: [], urlList: [] }, f, new Date(0)).infoHash
  }
  assert.equal(built(await wasmSha1()), built(nodeFactory('sha1')))
})

test('known answers: SHA-1 and SHA-256 of "abc"', async () => {
  const abc = new TextEncoder().encode('abc')
  const one = (f: HasherFactory): string => { const h = f(); h.update(abc); return hex(h.digest()) }
  assert.equal(one(await wasmSha1()), 'a9993e364706816aba3e25717850c26c9cd0d89d')
  assert.equal(one(await wasmSha256()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test('a hasher used after its shared instance was re-initialised throws instead of mixing states', async () => {
  const factory = reusedHasherFactory(await createSHA1())
  const first = factory()
  const second = factory()
  assert.throws(() => first.update(new Uint8Array(1)), /superseded/)
  second.update(new TextEncoder().encode('abc'))
  assert.equal(hex(second.digest()), 'a9993e364706816aba3e25717850c26c9cd0d89d')
})
