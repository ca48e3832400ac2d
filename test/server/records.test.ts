import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

let server: TestServer
before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }) })
after(async () => { await server.destroy() })

const post = (token: string | undefined, body: unknown): Promise<Response> => fetch(`${server.url}/api/records`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...bearer(token) },
  body: JSON.stringify(body)
})

test('an upload, its signed OIP record, and the record found by id, owner, tag and text; gone with the media', async () => {
  const me = await newIdentity()
  const token = await signIn(server.url, me)
  const other = await signIn(server.url, await newIdentity())
  const made: Record<string, string> = {}
  for (const level of ['public', 'private'] as const) {
    const up = (await upload(server.url, randomBytesSeeded(20_000, level === 'public' ? 91 : 92), { access_level: level }, `${level}.mp4`, 'video/mp4', token)).body
    const record: OipMediaRecord = {
      type: 'media',
      basic: { name: `Sunset ${level}`, description: 'Over the sea', date: 1795000000, language: 'en', tagItems: ['sunset', level] },
      media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType: up.mimeType, size: up.fileSize },
      accessControl: { access_level: level, owner_public_key: me.publicKey }
    }
    const res = await post(token, { record, signature: signRecord(record, me.privateKey) })
    assert.equal(res.status, 201)
    made[level] = (await res.json()).recordId
    assert.equal((await post(token, { record, signature: signRecord(record, me.privateKey) })).status, 200, 'the same record again')
  }

  assert.equal((await fetch(`${server.url}/api/records/${made.public}`)).status, 200)
  assert.equal((await fetch(`${server.url}/api/records/${made.private}`)).status, 404, 'private: hidden from the public')
  assert.equal((await fetch(`${server.url}/api/records/${made.private}`, { headers: bearer(other) })).status, 404, 'and from other keys')
  assert.equal((await fetch(`${server.url}/api/records/${made.private}`, { headers: bearer(token) })).status, 200)

  const ids = async (query: string, t?: string): Promise<string[]> =>
    (await (await fetch(`${server.url}/api/records?${query}`, { headers: bearer(t) })).json()).items.map((r: any) => r.recordId)
  assert.deepEqual(await ids(`owner=${me.publicKey}`), [made.public])
  assert.deepEqual((await ids(`owner=${me.publicKey}`, token)).sort(), [made.public, made.private].sort())
  assert.deepEqual(await ids('tag=sunset'), [made.public])
  assert.deepEqual(await ids('q=Sunset%20pub'), [made.public])
  assert.deepEqual(await ids('tag=private', other), [])

  // A record must be signed by the signed-in key for its own upload.
  const theirs = await post(other, { record: { ...(await (await fetch(`${server.url}/api/records/${made.public}`)).json()).record }, signature: Buffer.alloc(65).toString('base64') })
  assert.equal(theirs.status, 401)

  const mediaId = (await (await fetch(`${server.url}/api/records/${made.public}`)).json()).record.media.mediaId
  assert.equal((await fetch(`${server.url}/api/media/${mediaId}`, { method: 'DELETE', headers: bearer(token) })).status, 204)
  assert.equal((await fetch(`${server.url}/api/records/${made.public}`)).status, 404, 'records go with their media')
})

test("a record's media fields must be the stored file's: size, type, address and torrent, each refused with 409 media_mismatch", async () => {
  const me = await newIdentity()
  const token = await signIn(server.url, me)
  const up = (await upload(server.url, randomBytesSeeded(30_000, 93), { access_level: 'private' }, 'mine.mp4', 'video/mp4', token)).body
  const honest: OipMediaRecord = {
    type: 'media',
    basic: { name: 'Mine', description: '', date: 1795000000, language: 'en', tagItems: [] },
    media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType: up.mimeType, size: up.fileSize },
    accessControl: { access_level: 'private', owner_public_key: me.publicKey }
  }
  const lies: Array<[string, Partial<OipMediaRecord['media']>]> = [
    ['size', { size: up.fileSize * 1000 }],
    ['contentType', { contentType: 'application/pdf' }],
    ['httpUrl', { httpUrl: 'https://elsewhere.example/evil.mp4' }],
    ['bittorrentAddress', { bittorrentAddress: `magnet:?xt=urn:btih:${'ab'.repeat(20)}` }]
  ]
  for (const [field, lie] of lies) {
    const record = { ...honest, media: { ...honest.media, ...lie } }
    const res = await post(token, { record, signature: signRecord(record, me.privateKey) })
    assert.equal(res.status, 409, field)
    const { error } = await res.json()
    assert.equal(error.code, 'media_mismatch')
    assert.match(error.message, new RegExp(`record\\.media\\.${field} .*GET /api/media/${up.mediaId}/info`))
  }
  assert.deepEqual((await (await fetch(`${server.url}/api/records?owner=${me.publicKey}`, { headers: bearer(token) })).json()).items, [], 'nothing stored')
  assert.equal((await post(token, { record: honest, signature: signRecord(honest, me.privateKey) })).status, 201, 'the fields the upload answered pass')
})

test("a later uploader's record states the type they uploaded with, not the public face's", async () => {
  const first = await signIn(server.url, await newIdentity())
  const me = await newIdentity()
  const token = await signIn(server.url, me)
  const bytes = randomBytesSeeded(25_000, 94)
  assert.equal((await upload(server.url, bytes, { access_level: 'public' }, 'first.mp4', 'video/mp4', first)).status, 201)
  const up = (await upload(server.url, bytes, { access_level: 'public' }, 'mine.webm', 'video/webm', token)).body
  assert.equal(up.mimeType, 'video/mp4', 'the public face keeps the first uploader’s type')
  const record = (contentType: string): OipMediaRecord => ({
    type: 'media',
    basic: { name: 'Mine', description: '', date: 1795000000, language: 'en', tagItems: [] },
    media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType, size: up.fileSize },
    accessControl: { access_level: 'public', owner_public_key: me.publicKey }
  })
  const faces = record('video/mp4')
  assert.equal((await post(token, { record: faces, signature: signRecord(faces, me.privateKey) })).status, 409)
  const mine = record('video/webm')
  assert.equal((await post(token, { record: mine, signature: signRecord(mine, me.privateKey) })).status, 201)
})

test('searching records over HTTP: the origin\'s parameters find a signed record; each wrong one is a 400 with a code and a message that says what to send', async () => {
  const me = await newIdentity()
  const token = await signIn(server.url, me)
  const up = (await upload(server.url, randomBytesSeeded(20_000, 93), { access_level: 'public' }, 'harbour.mp4', 'video/mp4', token)).body
  const record: OipMediaRecord = {
    type: 'media',
    basic: { name: 'Harbour lights', description: 'Boats at dusk', date: 1795000000, language: 'en', tagItems: ['harbour', 'night'] },
    media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType: up.mimeType, size: up.fileSize },
    accessControl: { access_level: 'public', owner_public_key: me.publicKey }
  }
  const { recordId } = await (await post(token, { record, signature: signRecord(record, me.privateKey) })).json()
  const search = async (query: string): Promise<Response> => await fetch(`${server.url}/api/records?${query}`)
  const found = await (await search(`search=harb%20dusk&tags=night,day&recordType=media&creator=${me.publicKey}&dateStart=2026-11-01&source=local&sortBy=size:asc&limit=5&page=1`)).json()
  assert.deepEqual(found.items.map((r: any) => r.recordId), [recordId])

  for (const [query, code, message] of [
    ['search=%20%2B%2B', 'bad_query', /search must hold at least one word/],
    ['tagsMatchMode=ALL', 'bad_query', /tagsMatchMode must be AND or OR/],
    ['creator=me', 'bad_query', /creator must be a public key/],
    ['dateStart=last%20week', 'bad_query', /dateStart must be Unix seconds/],
    ['source=ipfs', 'bad_query', /source must be all, local, arweave, gun/],
    ['sortBy=rank', 'bad_query', /sortBy must be one of indexedAt, date, name, size/],
    ['page=99', 'bad_page', /page must be a whole number from 1 to 20/],
    ['sortBy=name&cursor=12', 'bad_cursor', /nextCursor of a previous page, asked with the same sortBy/],
    ['limit=500', 'bad_limit', /limit must be a whole number from 1 to 100/]
  ] as const) {
    const res = await search(query)
    assert.equal(res.status, 400, query)
    const { error } = await res.json()
    assert.equal(error.code, code, query)
    assert.match(error.message, message, query)
  }
})
