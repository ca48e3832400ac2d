import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { FsUploadStore } from '../../server/storage/fsUploadStore.ts'
import type { Appender } from '../../server/storage/uploadStore.ts'
import { ContentHasher } from '../../server/upload/contentHasher.ts'
import { pieceLength } from '../../shared/torrent.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { spawnServer } from '../helpers/process.ts'
import { PublishFailingStore } from '../helpers/failingStore.ts'
import { openServerDatabase, randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'
import { createUpload, cutPatch, head, offsetOf, patch, published, remove, sendFrom } from '../helpers/tus.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytesOf = async (url: string, token?: string): Promise<Buffer> => Buffer.from(await (await fetch(url, { headers: bearer(token) })).arrayBuffer())

describe('resumable uploads (tus 1.0)', () => {
  let server: TestServer
  let token: string
  let other: string
  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    token = await signIn(server.url, await newIdentity())
    other = await signIn(server.url, await newIdentity())
  })
  after(async () => { await server.destroy() })

  test('OPTIONS names the version, the extensions and the size limit', async () => {
    const res = await fetch(`${server.url}/api/uploads`, { method: 'OPTIONS' })
    assert.equal(res.status, 204)
    assert.equal(res.headers.get('tus-version'), '1.0.0')
    assert.deepEqual(res.headers.get('tus-extension')?.split(','), ['creation', 'termination', 'expiration'])
    assert.equal(res.headers.get('tus-max-size'), String(server.config.maxUploadBytes))
  })

  test('an upload sent in pieces is published, served and seeded exactly like a plain upload', async () => {
    const bytes = randomBytesSeeded(3 * 1024 * 1024 + 123, 81)
    const { res, url } = await createUpload(server.url, token, bytes.length, { filename: 'song.mp3', filetype: 'audio/mpeg', access_level: 'public', name: 'A song' })
    assert.equal(res.status, 201)
    assert.equal(res.headers.get('upload-offset'), '0')
    assert.ok(Date.parse(res.headers.get('upload-expires')!) > Date.now())
    const last = await sendFrom(url, token, bytes, 0, 1024 * 1024)
    assert.equal(last.headers.get('upload-offset'), String(bytes.length))
    const result = await published(url, token, last)
    assert.equal(result.mediaId, sha256(bytes))
    assert.equal(result.originalName, 'song.mp3')
    assert.equal(result.mimeType, 'audio/mpeg')
    assert.equal(result.accessLevel, 'public')
    assert.equal(result.fileSize, bytes.length)
    for (const key of ['infoHash', 'magnetURI', 'httpUrl', 'torrentUrl', 'owner', 'createdAt']) assert.ok(result[key], key)

    assert.ok((await bytesOf(result.httpUrl)).equals(Buffer.from(bytes)))
    const info = await (await fetch(`${server.url}/api/media/${result.mediaId}/info`)).json()
    assert.equal(info.seeding.seeding, true)
    // The same bytes as a plain upload elsewhere make the same torrent.
    const plain = await startTestServer()
    try {
      const p = await upload(plain.url, bytes, { access_level: 'public' }, 'song.mp3', 'audio/mpeg')
      assert.equal(p.body.infoHash, result.infoHash)
    } finally { await plain.destroy() }
    const torrent = await parseTorrent(Buffer.from(await (await fetch(result.torrentUrl)).arrayBuffer()))
    assert.equal(torrent.infoHash, result.infoHash)
    // The upload keeps its answer until it expires, UPLOAD_EXPIRY after its last byte.
    const status = await (await fetch(url, { headers: bearer(token) })).json()
    assert.equal(status.result.mediaId, result.mediaId)
    assert.ok(Date.parse(status.expiresAt) > Date.now() + 23 * 3600_000)
    // A PATCH after the end (a client whose last answer was lost) changes nothing and names the file again.
    const again = await patch(url, token, bytes.length, new Uint8Array(0))
    assert.equal(again.status, 204)
    assert.equal(again.headers.get('oip-media-id'), result.mediaId)
  })

  test('a connection cut mid-request keeps what arrived; the rest continues from the offset', async () => {
    const bytes = randomBytesSeeded(6 * 1024 * 1024, 82)
    const { url } = await createUpload(server.url, token, bytes.length)
    await cutPatch(url, token, 0, bytes, 4 * 1024 * 1024)
    // The server may still be finishing the cut request: until then a PATCH gets 423 (HEAD
    // answers, but its offset may still grow). An empty PATCH at the offset tells when it is done.
    let offset = 0
    for (let i = 0; i < 50; i++) {
      offset = await offsetOf(url, token)
      if ((await patch(url, token, offset, new Uint8Array(0))).status === 204) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    assert.ok(offset > 0 && offset <= 4 * 1024 * 1024, `kept ${offset} bytes`)
    const result = await published(url, token, await sendFrom(url, token, bytes, offset))
    assert.equal(result.mediaId, sha256(bytes))
    assert.ok((await bytesOf(result.httpUrl)).equals(Buffer.from(bytes)))
  })

  test('a PATCH at the wrong offset gets 409 and changes nothing', async () => {
    const bytes = randomBytesSeeded(2000, 83)
    const { url } = await createUpload(server.url, token, bytes.length)
    assert.equal((await patch(url, token, 0, bytes.subarray(0, 1000))).status, 204)
    const res = await patch(url, token, 500, bytes.subarray(500))
    assert.equal(res.status, 409)
    assert.equal(res.headers.get('upload-offset'), '1000')
    assert.match((await res.json()).error.message, /at byte 1000/)
    assert.equal(await offsetOf(url, token), 1000)
  })

  test('HEAD is never cached and a missing upload has no offset; POST with X-HTTP-Method-Override works as PATCH and DELETE', async () => {
    const bytes = randomBytesSeeded(3000, 92)
    const { url } = await createUpload(server.url, token, bytes.length)
    const h = await head(url, token)
    assert.equal(h.status, 200)
    assert.equal(h.headers.get('cache-control'), 'no-store')
    assert.equal(h.headers.get('upload-offset'), '0')
    assert.equal(h.headers.get('upload-length'), '3000')
    const missing = await head(`${server.url}/api/uploads/${'0'.repeat(32)}`, token)
    assert.equal(missing.status, 404)
    assert.equal(missing.headers.get('cache-control'), 'no-store')
    assert.equal(missing.headers.get('upload-offset'), null)

    const override = (method: string, more: Record<string, string> = {}, body?: Uint8Array): Promise<Response> => fetch(url, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', ...bearer(token), 'X-HTTP-Method-Override': method, ...more },
      ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {})
    })
    const sent = await override('PATCH', { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, bytes.subarray(0, 1000))
    assert.equal(sent.status, 204)
    assert.equal(sent.headers.get('upload-offset'), '1000')
    const unknown = await override('PUT')
    assert.equal(unknown.status, 405)
    assert.match((await unknown.json()).error.message, /PATCH/)
    assert.equal((await override('DELETE')).status, 204)
    assert.equal((await head(url, token)).status, 404)
  })

  test('only the creator can see, continue or end an upload: others get 404, no session gets 401', async () => {
    const bytes = randomBytesSeeded(1000, 84)
    const { url } = await createUpload(server.url, token, bytes.length)
    assert.equal((await head(url, other)).status, 404)
    assert.equal((await head(url, undefined)).status, 404)
    assert.equal((await patch(url, other, 0, bytes)).status, 404)
    assert.equal((await remove(url, other)).status, 404)
    assert.equal(await offsetOf(url, token), 0)
    assert.equal((await createUpload(server.url, undefined, 10)).res.status, 401)
  })

  test('bad requests get clear errors and store nothing', async () => {
    const cases: Array<[string, Promise<Response>, number]> = [
      ['no Tus-Resumable', fetch(`${server.url}/api/uploads`, { method: 'POST', headers: { ...bearer(token), 'Upload-Length': '10' } }), 412],
      ['no length', fetch(`${server.url}/api/uploads`, { method: 'POST', headers: { ...bearer(token), 'Tus-Resumable': '1.0.0' } }), 400],
      ['over MAX_UPLOAD_BYTES', createUpload(server.url, token, server.config.maxUploadBytes + 1).then(r => r.res), 413],
      ['empty file', createUpload(server.url, token, 0).then(r => r.res), 400],
      ['no access level', createUpload(server.url, token, 10, { filename: 'a' }).then(r => r.res), 400],
      ['bad sha256', createUpload(server.url, token, 10, { filename: 'a', access_level: 'public', sha256: 'xyz' }).then(r => r.res), 400],
      ['bad metadata', fetch(`${server.url}/api/uploads`, { method: 'POST', headers: { ...bearer(token), 'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': 'a b c' } }), 400]
    ]
    for (const [name, pending, status] of cases) {
      const res = await pending
      assert.equal(res.status, status, name)
      assert.equal(res.headers.get('tus-resumable'), '1.0.0', name)
      assert.ok((await res.json()).error.message.length > 10, name)
    }
    const { url } = await createUpload(server.url, token, 100)
    const tooMuch = await patch(url, token, 0, new Uint8Array(101))
    assert.equal(tooMuch.status, 413)
    const wrongType = await fetch(url, { method: 'PATCH', headers: { ...bearer(token), 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'text/plain' }, body: 'x' })
    assert.equal(wrongType.status, 415)
    assert.equal(await offsetOf(url, token), 0)
  })

  test('bytes that do not match the declared sha256 are refused and the upload is discarded', async () => {
    const bytes = randomBytesSeeded(5000, 85)
    const { url } = await createUpload(server.url, token, bytes.length, { filename: 'x', access_level: 'public', sha256: sha256(randomBytesSeeded(5000, 86)) })
    const res = await patch(url, token, 0, bytes)
    assert.equal(res.status, 422)
    assert.equal((await res.json()).error.code, 'checksum_mismatch')
    assert.equal((await head(url, token)).status, 404)
    assert.equal((await fetch(`${server.url}/api/media/${sha256(bytes)}`)).status, 404)
  })

  test('a private resumable upload is its owner\'s alone', async () => {
    const bytes = randomBytesSeeded(4000, 87)
    const { url } = await createUpload(server.url, token, bytes.length, { filename: 'secret.txt', access_level: 'private' })
    const result = await published(url, token, await patch(url, token, 0, bytes))
    assert.equal(result.accessLevel, 'private')
    assert.equal((await fetch(`${server.url}/api/media/${result.mediaId}`)).status, 404)
    assert.equal((await fetch(`${server.url}/api/media/${result.mediaId}`, { headers: bearer(other) })).status, 404)
    assert.ok((await bytesOf(`${server.url}/api/media/${result.mediaId}`, token)).equals(Buffer.from(bytes)))
  })

  test('one key may keep only so many unfinished uploads; ending one makes room', async () => {
    const busy = await signIn(server.url, await newIdentity())
    const urls: string[] = []
    let res: Response | undefined
    for (let i = 0; i < 100; i++) {
      const created = await createUpload(server.url, busy, 10)
      res = created.res
      if (res.status !== 201) break
      urls.push(created.url)
    }
    assert.equal(res!.status, 429)
    assert.equal((await res!.json()).error.code, 'too_many_open_uploads')
    assert.ok(urls.length >= 1 && urls.length < 100, `${urls.length} uploads were open`)
    // Another key is not affected, and ending one makes room again.
    assert.equal((await createUpload(server.url, token, 10)).res.status, 201)
    assert.equal((await remove(urls[0]!, busy)).status, 204)
    assert.equal((await createUpload(server.url, busy, 10)).res.status, 201)
  })

  test('DELETE ends an upload and removes its bytes', async () => {
    const { url } = await createUpload(server.url, token, 5000)
    await patch(url, token, 0, new Uint8Array(1000))
    const id = url.split('/').pop()!
    assert.equal((await remove(url, token)).status, 204)
    assert.equal((await head(url, token)).status, 404)
    await assert.rejects(fs.stat(path.join(server.config.mediaDir, '.uploads', id)))
  })
})

describe('resumable uploads across restarts and failures', () => {
  test('expired uploads are swept', async () => {
    const server = await startTestServer({ UPLOAD_EXPIRY: '1s' })
    try {
      const token = await signIn(server.url, await newIdentity())
      const { url } = await createUpload(server.url, token, 5000)
      await patch(url, token, 0, new Uint8Array(100))
      const id = url.split('/').pop()!
      let status = 200
      for (let i = 0; i < 50 && status === 200; i++) {
        await new Promise(resolve => setTimeout(resolve, 200))
        status = (await head(url, token)).status
      }
      assert.equal(status, 404)
      // The sweep forgets the upload first, then deletes its folder.
      const folder = path.join(server.config.mediaDir, '.uploads', id)
      for (let i = 0; i < 50 && await fs.stat(folder).then(() => true, () => false); i++) await new Promise(resolve => setTimeout(resolve, 100))
      await assert.rejects(fs.stat(folder))
    } finally { await server.destroy() }
  })

  test('kill -9 mid-upload, restart, resume: the published file is byte-for-byte the upload', async () => {
    const dir = await tempDir()
    const identity = await newIdentity()
    // More than one checkpoint's worth, so the restart resumes from saved piece hashes.
    const bytes = randomBytesSeeded(80 * 1024 * 1024 + 7, 88)
    let p = await spawnServer(dir)
    try {
      let token = await signIn(p.url, identity)
      const { url } = await createUpload(p.url, token, bytes.length, { filename: 'big.bin', access_level: 'public' })
      const id = url.split('/').pop()!
      assert.equal((await sendFrom(url, token, bytes.subarray(0, 72 * 1024 * 1024), 0, 8 * 1024 * 1024)).status, 204)
      const database = await openServerDatabase(dir)
      const checkpointed = async (): Promise<boolean> =>
        (await database.db.selectFrom('uploads').select('checkpoint_pieces').where('id', '=', id).executeTakeFirst())?.checkpoint_pieces != null
      try {
        // The checkpoint is saved in the background (it flushes 64 MiB first): a loaded machine takes a while.
        for (let i = 0; i < 600 && !await checkpointed(); i++) await new Promise(resolve => setTimeout(resolve, 100))
        assert.ok(await checkpointed(), 'a checkpoint was saved')
      } finally {
        await database.close()
      }
      // Die in the middle of the next request.
      const cut = cutPatch(url, token, 72 * 1024 * 1024, bytes.subarray(72 * 1024 * 1024), 4 * 1024 * 1024)
      await new Promise(resolve => setTimeout(resolve, 100))
      p.child.kill('SIGKILL')
      await p.exited
      await cut

      p = await spawnServer(dir)
      token = await signIn(p.url, identity)
      const restartedUrl = url.replace(new URL(url).origin, p.url)
      const offset = await offsetOf(restartedUrl, token)
      assert.ok(offset >= 72 * 1024 * 1024 && offset <= bytes.length, `resumes at ${offset}`)
      const result = await published(restartedUrl, token, await sendFrom(restartedUrl, token, bytes, offset, 8 * 1024 * 1024))
      assert.equal(result.mediaId, sha256(bytes))
      assert.ok((await bytesOf(result.httpUrl)).equals(Buffer.from(bytes)))
      const torrent = await parseTorrent(Buffer.from(await (await fetch(result.torrentUrl)).arrayBuffer()))
      const expected = new ContentHasher([pieceLength(bytes.length)])
      expected.update(bytes)
      assert.deepEqual(Buffer.concat(torrent.pieces!.map(h => Buffer.from(h, 'hex'))), Buffer.from(expected.finish().pieces!.pieces))
    } finally {
      p.child.kill('SIGKILL')
      await p.exited
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('a full disk mid-upload answers 507 and the upload resumes once there is room', async () => {
    let full = false
    class FillingStore extends FsUploadStore {
      override async append (id: string): Promise<Appender> {
        const real = await super.append(id)
        return {
          write: async (bytes, position, aligned) => {
            // A full disk: part of the batch lands, then the write fails.
            if (full) {
              await real.write(bytes.subarray(0, Math.min(100, bytes.length)), position, false)
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
            }
            await real.write(bytes, position, aligned)
          },
          close: () => real.close()
        }
      }
    }
    const probe = await tempDir()
    let server = await startTestServer({}, { dir: probe, uploadStore: new FillingStore(path.join(probe, 'media')) })
    try {
      const identity = await newIdentity()
      let token = await signIn(server.url, identity)
      const bytes = randomBytesSeeded(3 * 1024 * 1024, 89)
      let { url } = await createUpload(server.url, token, bytes.length)
      // The first MiB goes in while there is room; the disk fills up during the next request.
      const offset = 1024 * 1024
      assert.equal((await patch(url, token, 0, bytes.subarray(0, offset))).status, 204)
      full = true
      const res = await patch(url, token, offset, bytes.subarray(offset))
      assert.equal(res.status, 507)
      assert.equal((await res.json()).error.code, 'insufficient_storage')
      assert.equal(await offsetOf(url, token), offset, 'the bytes before the failed request are kept, the half-written batch is not counted')
      // A restart takes the offset from the disk: the half-written batch must not be there.
      await server.close()
      server = await startTestServer({}, { dir: probe, uploadStore: new FillingStore(path.join(probe, 'media')) })
      token = await signIn(server.url, identity)
      url = url.replace(new URL(url).origin, server.url)
      assert.equal(await offsetOf(url, token), offset)
      full = false
      const result = await published(url, token, await sendFrom(url, token, bytes, offset))
      assert.equal(result.mediaId, sha256(bytes))
      assert.ok((await bytesOf(result.httpUrl)).equals(Buffer.from(bytes)))
    } finally { await server.destroy() }
  })
})

describe('resumable uploads whose publishing fails', () => {
  test('a disk that fills up while the finished file is published keeps the whole upload; an empty PATCH at the end publishes it', async () => {
    const dir = await tempDir()
    const store = new PublishFailingStore(path.join(dir, 'media'))
    const server = await startTestServer({}, { dir, store })
    try {
      const token = await signIn(server.url, await newIdentity())
      const bytes = randomBytesSeeded(300_000, 91)
      const { url } = await createUpload(server.url, token, bytes.length)
      store.failNext = true
      const failed = await patch(url, token, 0, bytes)
      assert.equal(failed.status, 507)
      assert.equal(await offsetOf(url, token), bytes.length, 'every byte is still there')
      const result = await published(url, token, await patch(url, token, bytes.length, new Uint8Array(0)))
      assert.equal(result.mediaId, sha256(bytes))
      assert.ok((await bytesOf(result.httpUrl)).equals(Buffer.from(bytes)))
    } finally { await server.destroy() }
  })

  test('an upload whose bytes vanished (a crash while they were published) is gone after a restart, so the client starts over', async () => {
    const dir = await tempDir()
    let server = await startTestServer({}, { dir })
    const identity = await newIdentity()
    let token = await signIn(server.url, identity)
    const { url } = await createUpload(server.url, token, 5000)
    await patch(url, token, 0, new Uint8Array(1000))
    const id = url.split('/').pop()!
    await server.close()
    await fs.rm(path.join(dir, 'media', '.uploads', id, 'data'))
    server = await startTestServer({}, { dir })
    try {
      token = await signIn(server.url, identity)
      assert.equal((await head(url.replace(new URL(url).origin, server.url), token)).status, 404)
      await assert.rejects(fs.stat(path.join(dir, 'media', '.uploads', id)))
    } finally { await server.destroy() }
  })
})

test('a hasher resumed from a piece checkpoint gives the same hashes as one pass', () => {
  const bytes = randomBytesSeeded(5 * 1024 * 1024 + 99, 90)
  const len = pieceLength(bytes.length)
  const whole = new ContentHasher([len])
  whole.update(bytes)
  const first = new ContentHasher([len])
  first.update(bytes.subarray(0, 3 * 1024 * 1024 + 5000))
  const checkpoint = first.checkpoint()
  assert.ok(checkpoint && checkpoint.pieces.length > 0)
  const resumed = new ContentHasher([len], checkpoint)
  // Chunks that straddle the checkpoint's end, as a re-read of the file would.
  for (let at = 0; at < bytes.length; at += 77_777) resumed.update(bytes.subarray(at, at + 77_777))
  const expected = whole.finish()
  assert.ok(expected.pieces)
  assert.deepEqual(resumed.finish(), expected)
})
