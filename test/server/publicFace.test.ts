/**
 * The public face of a file (its name, type and public torrent) is never built from a private
 * record: a private upload stores a neutral face, and the first public upload renames the face
 * before its record makes it visible. Here the rename is held half-way (the .torrent written,
 * the manifest not) while requests come in.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MediaManifest } from '../../shared/media.ts'
import { FsBlobStore } from '../../server/storage/fsBlobStore.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

/** A blob store whose manifest writes wait while `hold` is set. */
class HeldStore extends FsBlobStore {
  hold: Promise<void> | undefined
  reached: (() => void) | undefined
  override async writeManifest (manifest: MediaManifest): Promise<void> {
    if (this.hold) {
      this.reached?.()
      await this.hold
    }
    await super.writeManifest(manifest)
  }
}

describe('the public face while it is being renamed', () => {
  let server: TestServer
  let store: HeldStore
  before(async () => {
    const dir = await tempDir()
    store = new HeldStore(path.join(dir, 'media'))
    server = await startTestServer({}, { dir, store })
  })
  after(async () => { await server.destroy() })

  test('shows nothing public until the rename is done, and never the private name', async () => {
    const owner = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(60_000, 951)
    const mine = await upload(server.url, bytes, { access_level: 'private' }, 'a-secret-name.pdf', 'application/pdf', owner)
    assert.equal(mine.status, 201)
    const id = mine.body.mediaId as string
    const manifestFile = path.join(server.dir, 'media', id, 'manifest.json')
    assert.doesNotMatch(await fs.readFile(manifestFile, 'utf8'), /a-secret-name/)

    let release!: () => void
    store.hold = new Promise(resolve => { release = resolve })
    const reached = new Promise<void>(resolve => { store.reached = resolve })
    const publishing = upload(server.url, bytes, { access_level: 'public' }, 'public-name.pdf', 'application/pdf')
    await reached
    for (const door of ['info', 'torrent', '']) {
      const res = await fetch(`${server.url}/api/media/${id}${door ? `/${door}` : ''}`)
      assert.equal(res.status, 404, `${door || 'bytes'} while the face is half renamed`)
      assert.doesNotMatch(await res.text(), /a-secret-name/)
    }
    store.hold = undefined
    release()
    assert.equal((await publishing).status, 201)
    const info = await (await fetch(`${server.url}/api/media/${id}/info`)).json()
    assert.equal(info.originalName, 'public-name.pdf')
    assert.equal(info.mimeType, 'application/pdf')
  })
})
