/**
 * The public face of a file (its name, type and public torrent) is never built from a private
 * record: a private upload stores a neutral face, and the first public upload gives the face its
 * name in the same transaction as its record (a crash inside that transaction: crash.test.ts).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

describe('the public face', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.destroy() })

  test('a private upload shows nothing public and writes no private name on disk; the first public upload names the face', async () => {
    const owner = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(60_000, 951)
    const mine = await upload(server.url, bytes, { access_level: 'private' }, 'a-secret-name.pdf', 'application/pdf', owner)
    assert.equal(mine.status, 201)
    const id = mine.body.mediaId as string
    const folder = path.join(server.dir, 'media', id)
    const onDisk = async (): Promise<string> => (await fs.readFile(path.join(folder, 'manifest.json'), 'utf8')) + (await fs.readFile(path.join(folder, 'torrent'))).toString('latin1')
    assert.doesNotMatch(await onDisk(), /a-secret-name/)
    for (const door of ['info', 'torrent', '']) {
      const res = await fetch(`${server.url}/api/media/${id}${door ? `/${door}` : ''}`)
      assert.equal(res.status, 404, `${door || 'bytes'} of a file nobody holds publicly`)
      assert.doesNotMatch(await res.text(), /a-secret-name/)
    }

    assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'public-name.pdf', 'application/pdf')).status, 201)
    const info = await (await fetch(`${server.url}/api/media/${id}/info`)).json()
    assert.equal(info.originalName, 'public-name.pdf')
    assert.equal(info.mimeType, 'application/pdf')
    const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${id}/torrent`)).arrayBuffer()))
    assert.equal(torrent.infoHash, info.infoHash, 'the .torrent hashes to the infoHash /info names')
    assert.equal(torrent.name, 'public-name.pdf')
    const listing = await (await fetch(`${server.url}/api/media`)).text()
    assert.doesNotMatch(listing, /a-secret-name/)
    assert.doesNotMatch(await onDisk(), /a-secret-name/)
  })
})
