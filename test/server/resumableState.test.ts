/**
 * Resumable uploads' state lives in the database, their bytes in the upload store: what a
 * restart finds of each (an older version's records, a place without a row, bytes past the
 * offset) and what it keeps counting (the per-owner limit), on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { UploadRepository } from '../../server/catalog/uploadRepository.ts'
import { openDatabase } from '../../server/db/database.ts'
import { ContentHasher } from '../../server/upload/contentHasher.ts'
import { pieceLength } from '../../shared/torrent.ts'
import { newIdentity, signIn, bearer } from '../helpers/auth.ts'
import { describeEachDatabase } from '../helpers/postgres.ts'
import { randomBytesSeeded, startTestServer, tempDir } from '../helpers/server.ts'
import { createUpload, head, offsetOf, patch, published, remove, sendFrom } from '../helpers/tus.ts'

const MiB = 1024 * 1024
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const exists = async (file: string): Promise<boolean> => await fs.stat(file).then(() => true, () => false)
const at = (url: string, base: string): string => url.replace(new URL(url).origin, base)

describeEachDatabase('resumable uploads across restarts', kind => {
  test('the per-owner limit counts the uploads left open before a restart', async () => {
    const { env } = await kind.newDatabase()
    const dir = await tempDir()
    const identity = await newIdentity()
    let server = await startTestServer(env, { dir })
    try {
      let token = await signIn(server.url, identity)
      const urls: string[] = []
      for (let created = await createUpload(server.url, token, 10); created.res.status === 201; created = await createUpload(server.url, token, 10)) {
        urls.push(created.url)
        assert.ok(urls.length <= 100, 'no limit')
      }
      await server.close()
      server = await startTestServer(env, { dir })
      token = await signIn(server.url, identity)
      const refused = (await createUpload(server.url, token, 10)).res
      assert.equal(refused.status, 429)
      assert.match((await refused.json()).error.message, new RegExp(`You have ${urls.length} unfinished uploads`))
      assert.equal((await remove(at(urls[0]!, server.url), token)).status, 204)
      assert.equal((await createUpload(server.url, token, 10)).res.status, 201)
    } finally { await server.destroy() }
  })

  test('an upload begun before the upgrade (info.json beside its bytes) is imported once and finishes', async () => {
    const { env, options } = await kind.newDatabase()
    const dir = await tempDir()
    const identity = await newIdentity()
    const bytes = randomBytesSeeded(3 * MiB + 5, 101)
    const uploadsDir = path.join(dir, 'media', '.uploads')
    // As the version before the catalogue left it: 1 MiB acknowledged, a crash's bytes beyond it, a piece checkpoint.
    const id = randomBytes(16).toString('hex')
    await fs.mkdir(path.join(uploadsDir, id), { recursive: true })
    await fs.writeFile(path.join(uploadsDir, id, 'data'), Buffer.concat([bytes.subarray(0, MiB), randomBytes(MiB)]))
    await fs.writeFile(path.join(uploadsDir, id, 'offset'), String(MiB).padStart(20))
    const hasher = new ContentHasher([pieceLength(bytes.length)])
    hasher.update(bytes.subarray(0, MiB))
    const checkpoint = hasher.checkpoint()!
    const expiresAt = new Date(Date.now() + 3600_000).toISOString()
    await fs.writeFile(path.join(uploadsDir, id, 'info.json'), JSON.stringify({
      id, owner: identity.publicKey, length: bytes.length, fileName: 'old.bin', mimeType: 'text/plain', fields: { accessLevel: 'public', name: 'Old' },
      createdAt: new Date().toISOString(), expiresAt, checkpoint: { pieceLength: checkpoint.pieceLength, pieces: Buffer.from(checkpoint.pieces).toString('base64') }
    }))
    // One that was published before the upgrade: its answer is kept until it expires.
    const done = randomBytes(16).toString('hex')
    const result = { mediaId: 'ab'.repeat(32), infoHash: 'cd'.repeat(20), magnetURI: 'magnet:?xt=urn:btih:' + 'cd'.repeat(20), httpUrl: 'http://x/a', torrentUrl: 'http://x/t', fileSize: 7, mimeType: 'text/plain', originalName: 'done.txt', accessLevel: 'public', owner: identity.publicKey, createdAt: new Date().toISOString() }
    await fs.mkdir(path.join(uploadsDir, done))
    await fs.writeFile(path.join(uploadsDir, done, 'info.json'), JSON.stringify({ id: done, owner: identity.publicKey, length: 7, fileName: 'done.txt', mimeType: 'text/plain', fields: { accessLevel: 'public' }, createdAt: new Date().toISOString(), expiresAt, result }))
    // And one whose record is damaged: nothing can be made of it.
    const damaged = randomBytes(16).toString('hex')
    await fs.mkdir(path.join(uploadsDir, damaged))
    await fs.writeFile(path.join(uploadsDir, damaged, 'data'), 'x')
    await fs.writeFile(path.join(uploadsDir, damaged, 'info.json'), '{"id": "cut off')

    let server = await startTestServer(env, { dir })
    try {
      let token = await signIn(server.url, identity)
      const url = `${server.url}/api/uploads/${id}`
      assert.equal(await offsetOf(url, token), MiB)
      assert.deepEqual(await fs.readdir(path.join(uploadsDir, id)), ['data'], 'its info.json and offset are gone')
      assert.equal((await fs.stat(path.join(uploadsDir, id, 'data'))).size, MiB, 'the bytes past the offset are cut off')
      const database = await openDatabase(options.url ? options : { sqliteFile: path.join(dir, 'data', 'db.sqlite') })
      try {
        assert.deepEqual(await new UploadRepository(database.db, database.dialect).checkpoint(id), { pieceLength: checkpoint.pieceLength, pieces: new Uint8Array(checkpoint.pieces) })
      } finally { await database.close() }
      assert.deepEqual((await (await fetch(`${server.url}/api/uploads/${done}`, { headers: bearer(token) })).json()).result, result)
      assert.equal(await exists(path.join(uploadsDir, done)), false, 'a published upload keeps no folder')
      assert.equal((await head(`${server.url}/api/uploads/${damaged}`, token)).status, 404)
      assert.equal(await exists(path.join(uploadsDir, damaged)), false)

      await server.close()
      server = await startTestServer(env, { dir })
      token = await signIn(server.url, identity)
      const resumed = `${server.url}/api/uploads/${id}`
      assert.equal(await offsetOf(resumed, token), MiB, 'imported once: the next start finds the row')
      const file = await published(resumed, token, await sendFrom(resumed, token, bytes, MiB))
      assert.equal(file.mediaId, sha256(bytes))
      assert.equal(file.originalName, 'old.bin')
      assert.ok(Buffer.from(await (await fetch(file.httpUrl)).arrayBuffer()).equals(Buffer.from(bytes)))
    } finally { await server.destroy() }
  })

  test('a place in the upload store without a row is removed at start; bytes past the acknowledged offset are cut back', async () => {
    const { env } = await kind.newDatabase()
    const dir = await tempDir()
    const identity = await newIdentity()
    const bytes = randomBytesSeeded(2 * MiB + 3, 102)
    let server = await startTestServer(env, { dir })
    try {
      let token = await signIn(server.url, identity)
      const { url } = await createUpload(server.url, token, bytes.length)
      assert.equal((await patch(url, token, 0, bytes.subarray(0, MiB))).status, 204)
      await server.close()
      const uploadsDir = path.join(dir, 'media', '.uploads')
      const data = path.join(uploadsDir, url.split('/').pop()!, 'data')
      // A crash mid-request: of its parallel writes, a later one landed (beyond a hole).
      const handle = await fs.open(data, 'r+')
      await handle.write(randomBytes(1000), 0, 1000, MiB + 500_000)
      await handle.close()
      // A crash between the place and its row (or a row lost with its database).
      const stray = path.join(uploadsDir, randomBytes(16).toString('hex'))
      await fs.mkdir(stray)
      await fs.writeFile(path.join(stray, 'data'), 'stray bytes')

      server = await startTestServer(env, { dir })
      token = await signIn(server.url, identity)
      assert.equal(await exists(stray), false)
      const resumed = at(url, server.url)
      assert.equal(await offsetOf(resumed, token), MiB)
      assert.equal((await fs.stat(data)).size, MiB)
      const file = await published(resumed, token, await sendFrom(resumed, token, bytes, MiB))
      assert.equal(file.mediaId, sha256(bytes))
      assert.equal(await exists(path.dirname(data)), false, 'a published upload keeps no folder')
    } finally { await server.destroy() }
  })
})
