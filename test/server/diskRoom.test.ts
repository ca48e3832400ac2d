/**
 * A resumable upload reserves room for the size it declares, until it ends: uploads that each fit
 * on the disk alone but not together are not both admitted, even before any byte is sent.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import { after, describe, test } from 'node:test'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { createUpload, remove } from '../helpers/tus.ts'

const GiB = 1024 ** 3

describe('room for resumable uploads', () => {
  let server: TestServer | undefined
  after(async () => { await server?.destroy() })

  test('two creations that fit one at a time: the second gets 507 until the first ends, across a restart too', async () => {
    const dir = await tempDir()
    const { bavail, bsize } = await fs.statfs(os.tmpdir())
    // 3 GiB above the low-water mark: one 2 GiB upload fits, two do not (other writers may move it by less than 1 GiB).
    const env = { DISK_LOW_WATER_BYTES: String(bavail * bsize - 3 * GiB), MAX_UPLOAD_BYTES: String(4 * GiB) }
    server = await startTestServer(env, { dir })
    const identity = await newIdentity()
    let token = await signIn(server.url, identity)

    const first = await createUpload(server.url, token, 2 * GiB)
    assert.equal(first.res.status, 201)
    const second = await createUpload(server.url, token, 2 * GiB)
    assert.equal(second.res.status, 507)
    assert.equal((await second.res.json()).error.code, 'insufficient_storage')

    // The room is still held after a restart.
    await server.close()
    server = await startTestServer(env, { dir })
    token = await signIn(server.url, identity)
    assert.equal((await createUpload(server.url, token, 2 * GiB)).res.status, 507)

    // Ended, it gives its room back.
    assert.equal((await remove(first.url.replace(/^http:\/\/[^/]+/, server.url), token)).status, 204)
    assert.equal((await createUpload(server.url, token, 2 * GiB)).res.status, 201)
  })
})
