/**
 * The web app's end of a resumable upload (web/lib/api.ts) in Node, against a real server: every
 * PATCH answers 204, so the app reads the published file from GET on the upload, and asks the
 * server to publish again when every byte is there but publishing failed.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { test } from 'node:test'
import { uploadResult } from '../../web/lib/api.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { PublishFailingStore } from '../helpers/failingStore.ts'
import { randomBytesSeeded, startTestServer, tempDir } from '../helpers/server.ts'
import { createUpload, patch } from '../helpers/tus.ts'

test('uploadResult: the published file of a finished upload, publishing it first when that failed last time', async () => {
  const dir = await tempDir()
  const store = new PublishFailingStore(path.join(dir, 'media'))
  const server = await startTestServer({}, { dir, store })
  try {
    const token = await signIn(server.url, await newIdentity())
    const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

    const first = randomBytesSeeded(50_000, 97)
    const done = await createUpload(server.url, token, first.length)
    assert.equal((await patch(done.url, token, 0, first)).status, 204)
    assert.equal((await uploadResult(done.url, token)).mediaId, sha256(first))

    const second = randomBytesSeeded(50_000, 98)
    const failed = await createUpload(server.url, token, second.length)
    store.failNext = true
    assert.equal((await patch(failed.url, token, 0, second)).status, 507)
    const result = await uploadResult(failed.url, token)
    assert.equal(result.mediaId, sha256(second))
    assert.equal((await fetch(result.httpUrl)).status, 200)
  } finally { await server.destroy() }
})
