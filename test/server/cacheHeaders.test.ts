/**
 * Cache headers follow the view actually served, not "someone holds these bytes publicly":
 * key A holds bytes privately, key B the same bytes publicly. A's view (private name, private
 * torrent with capabilities) is never cacheable; B's and everyone's public view is.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

describe('cache headers follow the view served', () => {
  let server: TestServer
  let a: string
  let b: string
  let id: string
  const get = (path: string, token?: string, method = 'GET'): Promise<Response> => fetch(`${server.url}${path}`, { method, headers: bearer(token) })

  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    a = await signIn(server.url, await newIdentity())
    b = await signIn(server.url, await newIdentity())
    const bytes = randomBytesSeeded(50_000, 501)
    const mine = await upload(server.url, bytes, { access_level: 'private' }, 'a-private-name.pdf', 'application/pdf', a)
    assert.equal(mine.status, 201)
    id = mine.body.mediaId
    assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'b-public.pdf', 'application/pdf', b)).status, 201)
  })
  after(async () => { await server.destroy() })

  test("the private holder's .torrent, bytes and info are private, no-store", async () => {
    for (const path of [`/api/media/${id}/torrent`, `/api/media/${id}`, `/api/media/${id}/info`]) {
      for (const method of ['GET', 'HEAD']) {
        const res = await get(path, a, method)
        await res.arrayBuffer()
        assert.equal(res.status, 200, `${method} ${path}`)
        assert.equal(res.headers.get('cache-control'), 'private, no-store', `${method} ${path}`)
      }
    }
    const torrent = await get(`/api/media/${id}/torrent`, a)
    await torrent.arrayBuffer()
    assert.equal(torrent.headers.get('access-control-allow-origin'), null, 'a private .torrent is not readable from other origins')
    const bytes = await get(`/api/media/${id}`, a)
    await bytes.arrayBuffer()
    assert.match(bytes.headers.get('content-disposition')!, /a-private-name\.pdf/)
  })

  test("the owner's conditional request (304) is private too", async () => {
    const res = await fetch(`${server.url}/api/media/${id}`, { headers: { ...bearer(a), 'If-None-Match': `"${id}"` } })
    assert.equal(res.status, 304)
    assert.equal(res.headers.get('cache-control'), 'private, no-store')
  })

  test('the public view is cacheable for anyone, the public holder included', async () => {
    for (const token of [undefined, b]) {
      const bytes = await get(`/api/media/${id}`, token)
      await bytes.arrayBuffer()
      assert.equal(bytes.headers.get('cache-control'), 'public, max-age=3600')
      assert.match(bytes.headers.get('content-disposition')!, /b-public\.pdf/)
      const torrent = await get(`/api/media/${id}/torrent`, token)
      await torrent.arrayBuffer()
      assert.equal(torrent.headers.get('cache-control'), 'public, max-age=3600')
      assert.equal(torrent.headers.get('access-control-allow-origin'), '*')
    }
  })

  test('other API answers are never cached: info, listings, errors', async () => {
    for (const [path, token] of [[`/api/media/${id}/info`, undefined], ['/api/media?owner=me', a], ['/api/media', undefined], [`/api/media/${'f'.repeat(64)}`, undefined]] as const) {
      const res = await get(path, token)
      await res.arrayBuffer()
      assert.equal(res.headers.get('cache-control'), 'private, no-store', path)
    }
  })
})
