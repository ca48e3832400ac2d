/**
 * The web app's end of a resumable upload (web/lib/api.ts) in Node, against a real server: every
 * PATCH answers 204, so the app reads the published file from GET on the upload, and asks the
 * server to publish again when every byte is there but publishing failed.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { test } from 'node:test'
import type { PendingBlob } from '../../server/storage/blobStore.ts'
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'
import { AppError } from '../../shared/errors.ts'
import { uploadResult } from '../../web/lib/api.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir } from '../helpers/server.ts'
import { createUpload, patch } from '../helpers/tus.ts'

test('uploadResult: the published file of a finished upload, publishing it first when that failed last time', async () => {
  let failNext = false
  class FlakyStore extends FsBlobStore {
    override async adopt (file: string): Promise<PendingBlob> {
      const real = await super.adopt(file)
      return {
        ...real,
        commit: async (manifest, torrentFile) => {
          if (!failNext) return await real.commit(manifest, torrentFile)
          failNext = false
          await real.abort()
          throw new AppError(507, 'insufficient_storage', 'The server has no disk space left for this file.')
        }
      }
    }
  }
  const dir = await tempDir()
  const server = await startTestServer({}, { dir, store: new FlakyStore(path.join(dir, 'media')) })
  try {
    const token = await signIn(server.url, await newIdentity())
    const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

    const first = randomBytesSeeded(50_000, 97)
    const done = await createUpload(server.url, token, first.length)
    assert.equal((await patch(done.url, token, 0, first)).status, 204)
    assert.equal((await uploadResult(done.url, token)).mediaId, sha256(first))

    const second = randomBytesSeeded(50_000, 98)
    const failed = await createUpload(server.url, token, second.length)
    failNext = true
    assert.equal((await patch(failed.url, token, 0, second)).status, 507)
    const result = await uploadResult(failed.url, token)
    assert.equal(result.mediaId, sha256(second))
    assert.equal((await fetch(result.httpUrl)).status, 200)
  } finally { await server.destroy() }
})
