import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import createTorrent from 'create-torrent'
import parseTorrent from 'parse-torrent'
import { sha1, sha256 } from '../server/upload/nodeHashers.ts'
import { randomBytesSeeded } from '../test/helpers/server.ts'
import bencode from 'bencode'
import { buildTorrent, MAX_PIECE_LENGTH, PieceHasher, pieceLength, renamedInfo, torrentFromInfo, torrentName, withTransport } from './torrent.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const createTorrentOf = (bytes: Uint8Array, name: string): Promise<Buffer> => new Promise((resolve, reject) => {
  const buf = Buffer.from(bytes) as Buffer & { name?: string }
  buf.name = name
  createTorrent(buf, { name, announceList: [], urlList: [] }, (err: Error | null, t: Buffer) => err ? reject(err) : resolve(t))
})

function piecesOf (bytes: Uint8Array, chunkSizes: number[]): { pieceLength: number, pieces: Uint8Array } {
  const len = pieceLength(bytes.length)
  const hasher = new PieceHasher(len, sha1)
  let offset = 0
  for (let i = 0; offset < bytes.length; i++) {
    const n = chunkSizes[i % chunkSizes.length]!
    hasher.update(bytes.subarray(offset, offset + n))
    offset += n
  }
  return { pieceLength: len, pieces: hasher.digest() }
}

test('the hashers match the FIPS 180 known answers for "abc"', () => {
  const abc = new TextEncoder().encode('abc')
  const h256 = sha256(); h256.update(abc)
  assert.equal(hex(h256.digest()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  const h1 = sha1(); h1.update(abc)
  assert.equal(hex(h1.digest()), 'a9993e364706816aba3e25717850c26c9cd0d89d')
})

test('the piece length follows create-torrent: at least 16 KiB, about 1000 pieces, at most 4 MiB', () => {
  assert.equal(pieceLength(1), 16384)
  assert.equal(pieceLength(100 * 1024 * 1024), 128 * 1024)
  assert.equal(pieceLength(1024 ** 3), 1024 * 1024)
  assert.equal(pieceLength(100 * 1024 ** 3), MAX_PIECE_LENGTH)
})

test('piece hashes do not depend on how the bytes are chunked', () => {
  const bytes = randomBytesSeeded(300_000, 7)
  const whole = piecesOf(bytes, [bytes.length])
  for (const sizes of [[1], [16383, 16385], [7, 65536, 3], [100_000]]) {
    assert.deepEqual(piecesOf(bytes.subarray(0, 40_000), sizes), piecesOf(bytes.subarray(0, 40_000), [40_000]))
    assert.deepEqual(piecesOf(bytes, sizes.map(s => s * 50)), whole)
  }
  // The last piece is short: 300000 bytes at 16 KiB = 19 pieces.
  assert.equal(whole.pieces.length, Math.ceil(300_000 / 16384) * 20)
  const first = createHash('sha1').update(bytes.subarray(0, 16384)).digest()
  assert.deepEqual(Buffer.from(whole.pieces.subarray(0, 20)), first)
})

test('a torrent built from streamed pieces has the infoHash create-torrent computes for the same file', async () => {
  for (const size of [1, 16384, 16385, 1_000_003, 3 * 1024 * 1024 + 17]) {
    const bytes = randomBytesSeeded(size, size)
    const name = 'holiday video.mp4'
    const built = buildTorrent({ name, length: size, ...piecesOf(bytes, [65536]) }, { announce: [], urlList: [] }, sha1)
    const reference = await parseTorrent(await createTorrentOf(bytes, name))
    assert.equal(built.infoHash, reference.infoHash, `size ${size}`)
    const parsed = await parseTorrent(Buffer.from(built.torrentFile))
    assert.equal(parsed.infoHash, built.infoHash)
    assert.equal(parsed.length, size)
  }
})

test('changing trackers and web seeds keeps the infoHash', async () => {
  const bytes = randomBytesSeeded(50_000)
  const built = buildTorrent({ name: 'a.bin', length: bytes.length, ...piecesOf(bytes, [50_000]) }, { announce: ['ws://old/announce'], urlList: [] }, sha1)
  const moved = withTransport(built.torrentFile, { announce: ['wss://new/announce', 'https://new/announce'], urlList: ['https://new/api/media/x'] })
  const parsed = await parseTorrent(Buffer.from(moved))
  assert.equal(parsed.infoHash, built.infoHash)
  assert.deepEqual(parsed.announce, ['wss://new/announce', 'https://new/announce'])
  assert.deepEqual(parsed.urlList, ['https://new/api/media/x'])
})

test('torrent names lose paths, control characters and leading dots, and are never empty', () => {
  assert.equal(torrentName('../../etc/passwd'), 'passwd')
  assert.equal(torrentName('C:\\Users\\me\\report.pdf'), 'report.pdf')
  assert.equal(torrentName('a\nb\u0000c.txt'), 'a_b_c.txt')
  assert.equal(torrentName('.hidden'), 'hidden')
  assert.equal(torrentName(''), 'file')
  assert.equal(torrentName('...'), 'file')
  const long = torrentName('é'.repeat(500))
  assert.ok(new TextEncoder().encode(long).length <= 200)
})

test('a private torrent built in the browser equals the one the server derives from its stored torrent', () => {
  const bytes = randomBytesSeeded(500_000, 9)
  const pieces = piecesOf(bytes, [65536])
  const salt = 'ab'.repeat(32)
  const stored = buildTorrent({ name: 'first-uploader.bin', length: bytes.length, ...pieces }, { announce: [], urlList: [] }, sha1)
  const browser = buildTorrent({ name: 'my-name.bin', length: bytes.length, ...pieces, privateSalt: salt }, { announce: [], urlList: [] }, sha1)
  const storedInfo = (bencode.decode(stored.torrentFile) as { info: Record<string, unknown> }).info
  const server = torrentFromInfo(renamedInfo(storedInfo, 'my-name.bin', salt), { announce: [], urlList: [] }, sha1)
  assert.equal(server.infoHash, browser.infoHash)
  assert.notEqual(browser.infoHash, buildTorrent({ name: 'my-name.bin', length: bytes.length, ...pieces }, { announce: [], urlList: [] }, sha1).infoHash, 'the salt changes the infoHash')
  assert.notEqual(browser.infoHash, buildTorrent({ name: 'my-name.bin', length: bytes.length, ...pieces, privateSalt: 'cd'.repeat(32) }, { announce: [], urlList: [] }, sha1).infoHash)
  assert.throws(() => buildTorrent({ name: 'x', length: bytes.length, ...pieces, privateSalt: 'short' }, { announce: [], urlList: [] }, sha1), /64 lowercase hex/)
})
