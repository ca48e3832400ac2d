import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import createTorrent from 'create-torrent'
import parseTorrent from 'parse-torrent'
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'
import type { StagingBlob } from '../../server/storage/blobStore.ts'
import { abortedUpload, multipartBody, postUpload } from '../helpers/multipart.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Media folders and staged uploads on disk. */
async function onDisk (server: TestServer): Promise<{ media: string[], incoming: string[] }> {
  const dir = server.config.mediaDir
  const media = (await fs.readdir(dir)).filter(n => /^[0-9a-f]{64}$/.test(n))
  const incoming = await fs.readdir(path.join(dir, '.incoming'))
  return { media, incoming }
}

/** Cleanup after an aborted request runs after the client is gone: wait for it (bounded). */
async function settledDisk (server: TestServer): Promise<{ media: string[], incoming: string[] }> {
  for (let i = 0; i < 100; i++) {
    const state = await onDisk(server)
    if (state.incoming.length === 0) return state
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return await onDisk(server)
}

describe('POST /api/media/upload', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) }) })
  after(async () => { await server.destroy() })

  test('a new file is stored under its SHA-256 with a torrent and answered with 201 and every field', async () => {
    const bytes = randomBytesSeeded(300_000, 11)
    const { status, body } = await upload(server.url, bytes, { access_level: 'public' }, 'clip.mp4', 'video/mp4')
    assert.equal(status, 201)
    assert.equal(body.mediaId, sha256(bytes))
    assert.match(body.infoHash, /^[0-9a-f]{40}$/)
    assert.ok(body.magnetURI.startsWith(`magnet:?xt=urn:btih:${body.infoHash}`))
    assert.equal(body.httpUrl, `${server.url}/api/media/${body.mediaId}`)
    assert.equal(body.torrentUrl, `${server.url}/api/media/${body.mediaId}/torrent`)
    assert.equal(body.fileSize, bytes.length)
    assert.equal(body.mimeType, 'video/mp4')
    assert.equal(body.originalName, 'clip.mp4')
    assert.equal(body.accessLevel, 'public')
    assert.ok(!Number.isNaN(Date.parse(body.createdAt)))

    const folder = path.join(server.config.mediaDir, body.mediaId)
    assert.deepEqual((await fs.readdir(folder)).sort(), ['manifest.json', 'original', 'torrent'])
    assert.equal(sha256(await fs.readFile(path.join(folder, 'original'))), body.mediaId)
    const manifest = JSON.parse(await fs.readFile(path.join(folder, 'manifest.json'), 'utf8'))
    assert.equal(manifest.infoHash, body.infoHash)
    const torrent = await parseTorrent(await fs.readFile(path.join(folder, 'torrent')))
    assert.equal(torrent.infoHash, body.infoHash)
  })

  test('the streamed torrent equals what create-torrent builds from the file', async () => {
    const bytes = randomBytesSeeded(1_234_567, 12)
    const { body } = await upload(server.url, bytes, { access_level: 'public' }, 'same.bin')
    const reference = await new Promise<Buffer>((resolve, reject) => {
      const b = Buffer.from(bytes) as Buffer & { name?: string }
      b.name = 'same.bin'
      createTorrent(b, { name: 'same.bin', announceList: [] }, (err, t) => err ? reject(err) : resolve(t))
    })
    assert.equal(body.infoHash, (await parseTorrent(reference)).infoHash)
  })

  test('the same bytes again answer 200 with the same mediaId and infoHash, and one copy on disk', async () => {
    const bytes = randomBytesSeeded(100_000, 13)
    const first = await upload(server.url, bytes, { access_level: 'public' }, 'one.bin')
    const again = await upload(server.url, bytes, { access_level: 'public' }, 'other-name.bin')
    assert.equal(first.status, 201)
    assert.equal(again.status, 200)
    assert.equal(again.body.mediaId, first.body.mediaId)
    assert.equal(again.body.infoHash, first.body.infoHash)
    assert.equal(again.body.originalName, 'one.bin')
    const { media, incoming } = await settledDisk(server)
    assert.equal(media.filter(m => m === first.body.mediaId).length, 1)
    assert.deepEqual(incoming, [])
  })

  test('a chunked upload (no Content-Length) gives the same ids as a plain one', async () => {
    const bytes = randomBytesSeeded(700_000, 14)
    const plain = await upload(server.url, bytes, { access_level: 'public' }, 'chunked.bin')
    const chunked = await postUpload(server.url, multipartBody([
      { name: 'access_level', value: 'public' },
      { name: 'file', file: { bytes, filename: 'chunked.bin' } }
    ]), { chunked: true, chunkSize: 64 * 1024 })
    assert.equal(chunked.status, 200)
    assert.equal(chunked.body.mediaId, plain.body.mediaId)
    assert.equal(chunked.body.infoHash, plain.body.infoHash)
  })

  test('a chunked upload of a new file whose size is unknown still gets the right torrent', async () => {
    const bytes = randomBytesSeeded(900_001, 15)
    const res = await postUpload(server.url, multipartBody([
      { name: 'access_level', value: 'public' },
      { name: 'file', file: { bytes, filename: 'unknown-size.bin' } }
    ]), { chunked: true, chunkSize: 100_000 })
    assert.equal(res.status, 201)
    const reference = await new Promise<Buffer>((resolve, reject) => {
      const b = Buffer.from(bytes) as Buffer & { name?: string }
      b.name = 'unknown-size.bin'
      createTorrent(b, { name: 'unknown-size.bin', announceList: [] }, (err, t) => err ? reject(err) : resolve(t))
    })
    assert.equal(res.body.infoHash, (await parseTorrent(reference)).infoHash)
  })

  test('a "size" field that disagrees with the file is refused', async () => {
    const res = await postUpload(server.url, multipartBody([
      { name: 'access_level', value: 'public' },
      { name: 'size', value: '999' },
      { name: 'file', file: { bytes: randomBytesSeeded(1000, 16), filename: 'x.bin' } }
    ]))
    assert.equal(res.status, 400)
    assert.equal(res.body.error.code, 'size_mismatch')
  })

  describe('bad input gets a clear error and stores nothing', () => {
    const cases: Array<{ name: string, parts: Parameters<typeof multipartBody>[0], status: number, code: string }> = [
      { name: 'no file part', parts: [{ name: 'access_level', value: 'public' }], status: 400, code: 'no_file' },
      { name: 'an empty file', parts: [{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: new Uint8Array(0), filename: 'empty.txt' } }], status: 400, code: 'empty_file' },
      {
        name: 'two files',
        parts: [{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: randomBytesSeeded(5000, 17), filename: 'a.bin' } }, { name: 'file', file: { bytes: randomBytesSeeded(5000, 18), filename: 'b.bin' } }],
        status: 400,
        code: 'too_many_files'
      },
      { name: 'an unknown access_level', parts: [{ name: 'access_level', value: 'secret' }, { name: 'file', file: { bytes: randomBytesSeeded(5000, 19), filename: 'a.bin' } }], status: 400, code: 'bad_access_level' },
      { name: 'no access_level', parts: [{ name: 'file', file: { bytes: randomBytesSeeded(5000, 20), filename: 'a.bin' } }], status: 400, code: 'bad_access_level' },
      { name: 'a file over MAX_UPLOAD_BYTES', parts: [{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: randomBytesSeeded(2 * 1024 * 1024 + 1, 21), filename: 'big.bin' } }], status: 413, code: 'too_large' }
    ]
    for (const c of cases) {
      test(c.name, async () => {
        const before = await onDisk(server)
        const res = await postUpload(server.url, multipartBody(c.parts))
        assert.equal(res.status, c.status)
        assert.equal(res.body.error.code, c.code)
        assert.ok(res.body.error.message.length > 20, 'the message says what to do')
        const afterwards = await settledDisk(server)
        assert.deepEqual(afterwards.media.sort(), before.media.sort())
        assert.deepEqual(afterwards.incoming, [])
      })
    }

    test('a body that is not multipart/form-data gets 415', async () => {
      const res = await postUpload(server.url, Buffer.from('{"file":"x"}'), { contentType: 'application/json' })
      assert.equal(res.status, 415)
      assert.equal(res.body.error.code, 'unsupported_media_type')
    })

    test('a Content-Length over the limit is refused before the body is read', async () => {
      const big = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: randomBytesSeeded(3 * 1024 * 1024, 22), filename: 'big.bin' } }])
      const res = await postUpload(server.url, big, { chunkSize: 64 * 1024 })
      assert.equal(res.status, 413)
      assert.equal(res.headers.connection, 'close')
      assert.deepEqual((await settledDisk(server)).incoming, [])
    })

    test('a chunked body over the limit is refused as soon as the limit is crossed', async () => {
      const before = await onDisk(server)
      const big = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes: randomBytesSeeded(3 * 1024 * 1024, 23), filename: 'big.bin' } }])
      const res = await postUpload(server.url, big, { chunked: true, chunkSize: 64 * 1024 })
      assert.equal(res.status, 413)
      const afterwards = await settledDisk(server)
      assert.deepEqual(afterwards.media.sort(), before.media.sort())
      assert.deepEqual(afterwards.incoming, [])
    })

    test('a client that goes away mid-upload leaves no temp file and no media', async () => {
      const before = await onDisk(server)
      const bytes = randomBytesSeeded(1_500_000, 24)
      await abortedUpload(server.url, multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes, filename: 'cut.bin' } }]), 600_000)
      const afterwards = await settledDisk(server)
      assert.deepEqual(afterwards.incoming, [])
      assert.deepEqual(afterwards.media.sort(), before.media.sort())
      assert.ok(!afterwards.media.includes(sha256(bytes)))
      // The server is still fine afterwards.
      assert.equal((await upload(server.url, randomBytesSeeded(1000, 25))).status, 201)
    })
  })
})

/** A filesystem store whose disk "fills up" after `capacity` bytes of one upload. */
class FullDiskStore extends FsBlobStore {
  constructor (root: string, private readonly capacity: number) { super(root) }

  override async begin (): Promise<StagingBlob> {
    const real = await super.begin()
    let written = 0
    const capacity = this.capacity
    return {
      ...real,
      file: {
        async write (bytes, position, aligned) {
          written += bytes.length
          if (written > capacity) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
          await real.file.write(bytes, position, aligned)
        }
      }
    }
  }
}

describe('a full disk', () => {
  let server: TestServer
  before(async () => {
    const probe = await startTestServer()
    const dir = probe.dir
    await probe.close()
    server = await startTestServer({}, { dir, store: new FullDiskStore(path.join(dir, 'media'), 200_000) })
  })
  after(async () => { await server.destroy() })

  test('answers 507 and leaves nothing partial behind', async () => {
    const res = await postUpload(server.url, multipartBody([
      { name: 'access_level', value: 'public' },
      { name: 'file', file: { bytes: randomBytesSeeded(1_000_000, 26), filename: 'full.bin' } }
    ]))
    assert.equal(res.status, 507)
    assert.equal(res.body.error.code, 'insufficient_storage')
    const state = await settledDisk(server)
    assert.deepEqual(state.media, [])
    assert.deepEqual(state.incoming, [])
  })

  test('files that fit are still stored', async () => {
    const small = randomBytesSeeded(50_000, 27)
    const res = await upload(server.url, small)
    assert.equal(res.status, 201)
    assert.equal(res.body.mediaId, sha256(small))
  })
})

