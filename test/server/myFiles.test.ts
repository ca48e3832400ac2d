/**
 * My files: the owner's own listing (GET /api/media?owner=me) with each file's pin, seeding state
 * and tags, searched with q; edits of name, description and tags (PATCH /api/media/:id), which
 * make the owner's signed record stale; and the key's usage against its quotas (GET
 * /api/me/usage). On both databases. Access changes are in accessChange.test.ts.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, test } from 'node:test'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { multipartBody, postUpload } from '../helpers/multipart.ts'
import { describeEachDatabase } from '../helpers/postgres.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'
import { createUpload, published, sendFrom } from '../helpers/tus.ts'

const MISSING_ID = 'e'.repeat(64)

describeEachDatabase('my files', ({ newDatabase }) => {
  const servers: TestServer[] = []
  after(async () => { for (const s of servers) await s.destroy() })
  const start = async (env: Record<string, string> = {}): Promise<TestServer> => {
    const s = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false', ...(await newDatabase()).env, ...env })
    servers.push(s)
    return s
  }

  const mine = async (s: TestServer, token: string | undefined, query = ''): Promise<Response> =>
    await fetch(`${s.url}/api/media?owner=me${query}`, { headers: bearer(token) })
  const items = async (s: TestServer, token: string, query = ''): Promise<any[]> => {
    const res = await mine(s, token, query)
    assert.equal(res.status, 200)
    return (await res.json()).items
  }
  const patch = async (s: TestServer, id: string, token: string | undefined, body: unknown): Promise<Response> => await fetch(`${s.url}/api/media/${id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', ...bearer(token) },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const poll = async (what: string, ok: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; !await ok(); i++) {
      if (i > 200) assert.fail(`never: ${what}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  test('the listing shows uploads from other clients (multipart as curl sends it, tus) with pin, seeding state and tags, newest first', async () => {
    // Two active torrents: the oldest of three goes idle.
    const s = await start({ SEED_MAX_ACTIVE: '2' })
    const token = await signIn(s.url, await newIdentity())
    const curl = async (bytes: Uint8Array, fields: Record<string, string>, filename: string): Promise<any> => {
      const res = await postUpload(s.url, multipartBody([...Object.entries(fields).map(([name, value]) => ({ name, value })), { name: 'file', file: { bytes, filename, type: 'text/plain' } }]), { headers: bearer(token) })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      return res.body
    }
    const first = await curl(randomBytesSeeded(30_000, 1201), { access_level: 'public', name: 'Harbour at dawn', description: 'Boats leaving' }, 'harbour.txt')
    const tusBytes = randomBytesSeeded(40_000, 1202)
    const created = await createUpload(s.url, token, tusBytes.length, { filename: 'Minutes_2026.txt', filetype: 'text/plain', access_level: 'private' })
    assert.equal(created.res.status, 201)
    const second = await published(created.url, token, await sendFrom(created.url, token, tusBytes, 0))
    const third = await curl(randomBytesSeeded(20_000, 1203), { access_level: 'public' }, 'notes.txt')

    const listed = await items(s, token)
    assert.deepEqual(listed.map(i => i.mediaId), [third.mediaId, second.mediaId, first.mediaId])
    assert.deepEqual(listed.map(i => [i.accessLevel, i.infoHash, i.originalName, i.pinned, i.seeding, i.tags]), [
      ['public', third.infoHash, 'notes.txt', false, 'active', []],
      ['private', second.infoHash, 'Minutes_2026.txt', false, 'active', []],
      ['public', first.infoHash, 'harbour.txt', false, 'idle', []]
    ])
    assert.deepEqual([listed[2].name, listed[2].description, listed[2].fileSize], ['Harbour at dawn', 'Boats leaving', 30_000])

    // Pinned, the idle one is active again, and shown pinned.
    assert.equal((await fetch(`${s.url}/api/media/${first.mediaId}/pin`, { method: 'PUT', headers: bearer(token) })).status, 200)
    const after = (await items(s, token)).find(i => i.mediaId === first.mediaId)
    assert.deepEqual([after.pinned, after.seeding], [true, 'active'])

    // Another key sees none of it in its own listing; without a session there is none.
    assert.deepEqual(await items(s, await signIn(s.url, await newIdentity())), [])
    assert.equal((await mine(s, undefined)).status, 401)
  })

  test('q finds text in the name, description or original name, ASCII case folded, taken literally, still paged', async () => {
    const s = await start()
    const token = await signIn(s.url, await newIdentity())
    const up = async (seed: number, fields: Record<string, string>, file: string): Promise<string> =>
      (await upload(s.url, randomBytesSeeded(5000, seed), { access_level: 'public', ...fields }, file, 'text/plain', token)).body.mediaId
    const harbour = await up(1211, { name: 'Harbour at dawn' }, 'a.txt')
    const boats = await up(1212, { description: 'Boats in the HARBOUR' }, 'b.txt')
    const file = await up(1213, {}, 'harbour_100%.txt')
    const other = await up(1214, { name: 'Fields' }, 'c.txt')
    const ids = async (q: string, more = ''): Promise<string[]> => (await items(s, token, `&q=${encodeURIComponent(q)}${more}`)).map(i => i.mediaId)

    assert.deepEqual(await ids('harbour'), [file, boats, harbour])
    assert.deepEqual(await ids('100%'), [file], '% is a character, not a wildcard')
    assert.deepEqual(await ids('_100'), [file])
    assert.deepEqual(await ids('a_t'), [], '_ is a character too')
    assert.deepEqual(await ids('fields'), [other])
    // Paged by cursor as without q.
    const page = await (await mine(s, token, '&q=harbour&limit=2')).json()
    assert.deepEqual(page.items.map((i: any) => i.mediaId), [file, boats])
    const next = await (await mine(s, token, `&q=harbour&limit=2&cursor=${page.nextCursor}`)).json()
    assert.deepEqual(next.items.map((i: any) => i.mediaId), [harbour])

    // A bad q, or a q outside the owner's listing, says what to do.
    for (const [query, message] of [['&q=', /1 to 200/], [`&q=${'x'.repeat(201)}`, /1 to 200/], ['&q=a%00b', /NUL/]] as const) {
      const res = await mine(s, token, query)
      assert.equal(res.status, 400)
      const { error } = await res.json()
      assert.equal(error.code, 'bad_query')
      assert.match(error.message, message)
    }
    const publicQ = await fetch(`${s.url}/api/media?q=harbour`)
    assert.equal(publicQ.status, 400)
    assert.match((await publicQ.json()).error.message, /owner=me/)
  })

  test('seeding says off when the server seeds nothing (SEEDING=false), and missing when the bytes are gone', async () => {
    const off = await start({ SEEDING: 'false' })
    const offToken = await signIn(off.url, await newIdentity())
    await upload(off.url, randomBytesSeeded(5000, 1221), { access_level: 'public' }, 'a.txt', 'text/plain', offToken)
    assert.deepEqual((await items(off, offToken)).map(i => i.seeding), ['off'])

    // Bytes removed by hand are found by the first read of them, which marks the file missing.
    const s = await start()
    const token = await signIn(s.url, await newIdentity())
    const gone = (await upload(s.url, randomBytesSeeded(5000, 1222), { access_level: 'public' }, 'gone.txt', 'text/plain', token)).body
    const kept = (await upload(s.url, randomBytesSeeded(5000, 1223), { access_level: 'private' }, 'kept.txt', 'text/plain', token)).body
    await fs.rm(path.join(s.config.mediaDir, gone.mediaId), { recursive: true })
    assert.equal((await fetch(`${s.url}/api/media/${gone.mediaId}`, { headers: bearer(token) })).status, 404)
    await poll('the listing shows the file missing', async () => (await items(s, token)).find(i => i.mediaId === gone.mediaId)?.seeding === 'missing')
    assert.equal((await items(s, token)).find(i => i.mediaId === kept.mediaId)?.seeding, 'active')
  })

  test("an edit of name, description and tags answers the file as listed; the owner's signed record goes, and a new one can be posted", async () => {
    const s = await start()
    const me = await newIdentity()
    const token = await signIn(s.url, me)
    const up = (await upload(s.url, randomBytesSeeded(20_000, 1231), { access_level: 'public', name: 'Draft', description: 'first cut' }, 'clip.mp4', 'video/mp4', token)).body
    const post = async (name: string, tags: string[]): Promise<Response> => {
      const record: OipMediaRecord = {
        type: 'media',
        basic: { name, description: 'Over the sea', date: 1795000000, language: 'en', tagItems: tags },
        media: { mediaId: up.mediaId, bittorrentAddress: up.magnetURI, httpUrl: up.httpUrl, contentType: up.mimeType, size: up.fileSize },
        accessControl: { access_level: 'public', owner_public_key: me.publicKey }
      }
      return await fetch(`${s.url}/api/records`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify({ record, signature: signRecord(record, me.privateKey) }) })
    }
    const old = await post('Draft', [])
    assert.equal(old.status, 201)
    const oldId = (await old.json()).recordId

    const res = await patch(s, up.mediaId, token, { name: 'Sunset', description: 'Over the sea', tags: ['sea', 'sunset', 'sea'] })
    assert.equal(res.status, 200)
    const item = await res.json()
    assert.deepEqual({ ...item, createdAt: '' }, {
      mediaId: up.mediaId,
      name: 'Sunset',
      description: 'Over the sea',
      originalName: 'clip.mp4',
      mimeType: 'video/mp4',
      fileSize: 20_000,
      infoHash: up.infoHash,
      accessLevel: 'public',
      owner: me.publicKey,
      createdAt: '',
      pinned: false,
      seeding: 'active',
      tags: ['sea', 'sunset'],
      thumbnail: null,
      sharedWith: []
    })
    assert.deepEqual((await items(s, token))[0], item, 'the answer is the listed item')
    // The public listing shows the first public uploader's name and description: now these.
    const everyone = (await (await fetch(`${s.url}/api/media`)).json()).items.find((i: any) => i.mediaId === up.mediaId)
    assert.deepEqual([everyone.name, everyone.description], ['Sunset', 'Over the sea'])
    // The torrent is the same: only the record changed.
    assert.equal((await (await fetch(`${s.url}/api/media/${up.mediaId}/info`)).json()).infoHash, up.infoHash)

    assert.equal((await fetch(`${s.url}/api/records/${oldId}`, { headers: bearer(token) })).status, 404, 'the stale signed record is gone')
    const signedAgain = await post('Sunset', ['sea', 'sunset'])
    assert.equal(signedAgain.status, 201)
    const records = await (await fetch(`${s.url}/api/records?owner=${me.publicKey}`)).json()
    assert.deepEqual(records.items.map((r: any) => r.record.basic.name), ['Sunset'])

    // null clears; [] clears the tags; an edit that changes nothing keeps the signed record.
    const cleared = await (await patch(s, up.mediaId, token, { name: null, description: '', tags: [] })).json()
    assert.deepEqual([cleared.name, cleared.description, cleared.tags], [null, null, []])
    const kept = await post('Sunset', [])
    assert.equal(kept.status, 201)
    const keptId = (await kept.json()).recordId
    assert.equal((await patch(s, up.mediaId, token, { name: null, tags: [] })).status, 200)
    assert.equal((await fetch(`${s.url}/api/records/${keptId}`)).status, 200, 'nothing changed: the record still describes the file')
  })

  test("an edit by a public uploader who is not the first leaves the file's public face alone: its listing, name and torrent", async () => {
    const s = await start()
    const firstKey = await newIdentity()
    const first = await signIn(s.url, firstKey)
    const later = await signIn(s.url, await newIdentity())
    const up = (await upload(s.url, randomBytesSeeded(20_000, 1232), { access_level: 'public', name: 'Harbour', description: 'At dawn' }, 'harbour.jpg', 'image/jpeg', first)).body
    const face = async (): Promise<unknown> => {
      const info = await (await fetch(`${s.url}/api/media/${up.mediaId}/info`)).json()
      const listed = (await (await fetch(`${s.url}/api/media`)).json()).items.find((i: any) => i.mediaId === up.mediaId)
      return { originalName: info.originalName, mimeType: info.mimeType, infoHash: info.infoHash, shownAs: info.name, name: listed.name, description: listed.description, owner: listed.owner }
    }
    const before = await face()
    assert.deepEqual(before, { originalName: 'harbour.jpg', mimeType: 'image/jpeg', infoHash: up.infoHash, shownAs: 'Harbour', name: 'Harbour', description: 'At dawn', owner: firstKey.publicKey })
    const claimed = await fetch(`${s.url}/api/media/${up.mediaId}/claim`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(later) }, body: JSON.stringify({ access_level: 'public', name: 'Mine', original_name: 'mine.jpg' }) })
    assert.equal(claimed.status, 201)

    const res = await patch(s, up.mediaId, later, { name: 'Renamed by the second', description: 'Not the first', tags: ['second'] })
    assert.equal(res.status, 200)
    assert.deepEqual([(await res.json()).name, (await items(s, later))[0].name], ['Renamed by the second', 'Renamed by the second'], 'their own record changed')
    assert.deepEqual(await face(), before)
  })

  test('bad fields get 400 bad_field naming the field, and nothing changes; a file the caller does not hold is 404 as a missing id; no session is 401', async () => {
    const s = await start()
    const me = await newIdentity()
    const token = await signIn(s.url, me)
    const up = (await upload(s.url, randomBytesSeeded(10_000, 1241), { access_level: 'private', name: 'Mine' }, 'mine.txt', 'text/plain', token)).body
    assert.equal((await patch(s, up.mediaId, token, { tags: ['kept'] })).status, 200)
    const before = (await items(s, token))[0]

    const cases: Array<[unknown, string, RegExp]> = [
      [{ name: 5 }, 'bad_field', /"name" must be a string of at most 200 characters, or null/],
      [{ name: 'x'.repeat(201) }, 'bad_field', /"name"/],
      [{ description: 'x'.repeat(5001) }, 'bad_field', /"description" must be a string of at most 5000/],
      [{ name: 'ok', description: 'a\u0000b' }, 'bad_field', /"description" contains a NUL/],
      [{ tags: 'sea' }, 'bad_field', /"tags" must be an array of at most 20 tags/],
      [{ tags: null }, 'bad_field', /"tags" must be an array/],
      [{ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'bad_field', /at most 20 tags/],
      [{ tags: ['ok', ''] }, 'bad_field', /"tags\[1\]" must be a string of 1 to 64 characters/],
      [{ tags: ['x'.repeat(65)] }, 'bad_field', /"tags\[0\]"/],
      [{ tags: [7] }, 'bad_field', /"tags\[0\]"/],
      [{ tags: ['a\u0000'] }, 'bad_field', /"tags\[0\]" contains a NUL/],
      [{ name: 'half \uD800 pair' }, 'bad_field', /"name" is not valid Unicode text/],
      [{ name: 'New', accessLevel: 'secret' }, 'bad_field', /"accessLevel" must be "public" or "private", got "secret"/],
      [{ accessLevel: null }, 'bad_field', /"accessLevel"/],
      [{ access_level: 'public' }, 'bad_field', /"access_level" is not a field you can edit: send any of name, description, tags, accessLevel/],
      ['not json', 'bad_json', /JSON object/],
      [['a'], 'bad_json', /JSON object/]
    ]
    for (const [body, code, message] of cases) {
      const res = await patch(s, up.mediaId, token, body)
      assert.equal(res.status, 400, JSON.stringify(body))
      const { error } = await res.json()
      assert.equal(error.code, code, JSON.stringify(body))
      assert.match(error.message, message)
    }
    assert.deepEqual((await items(s, token))[0], before, 'nothing changed')

    // Another key: the same 404 as an id nobody has, for a private and a public file; nothing changes.
    const other = await signIn(s.url, await newIdentity())
    const pub = (await upload(s.url, randomBytesSeeded(10_000, 1242), { access_level: 'public', name: 'Public' }, 'pub.txt', 'text/plain', token)).body
    const missing = await (await patch(s, MISSING_ID, other, { name: 'x' })).json()
    for (const id of [up.mediaId, pub.mediaId]) {
      const res = await patch(s, id, other, { name: 'Taken', accessLevel: 'public' })
      assert.equal(res.status, 404)
      assert.deepEqual(await res.json(), missing)
    }
    assert.equal((await patch(s, up.mediaId, undefined, { name: 'x' })).status, 401)
    assert.deepEqual((await items(s, token)).map(i => [i.name, i.accessLevel]), [['Public', 'public'], ['Mine', 'private']])
    assert.equal((await fetch(`${s.url}/api/media/${up.mediaId}`, { headers: bearer(other) })).status, 404)
  })

  test('usage: bytes and files held, pins, against the limits; it follows uploads, claims, pins and deletes; admin keys are exempt and not summed', async () => {
    const admin: Identity = await newIdentity()
    const s = await start({ QUOTA_BYTES_PER_KEY: '1000000', QUOTA_FILES_PER_KEY: '50', PINS_PER_KEY: '3', ADMIN_PUBLIC_KEYS: admin.publicKey })
    const usage = async (token: string | undefined): Promise<Response> => await fetch(`${s.url}/api/me/usage`, { headers: bearer(token) })
    const of = async (token: string): Promise<any> => {
      const res = await usage(token)
      assert.equal(res.status, 200)
      return await res.json()
    }
    const limits = { bytesPerKey: 1_000_000, filesPerKey: 50, pinsPerKey: 3 }
    assert.equal((await usage(undefined)).status, 401)
    assert.equal((await (await usage(undefined)).json()).error.code, 'login_required')

    const alice = await signIn(s.url, await newIdentity())
    assert.deepEqual(await of(alice), { bytes: 0, files: 0, pins: 0, limits, exempt: false })
    const a = (await upload(s.url, randomBytesSeeded(30_000, 1251), { access_level: 'public' }, 'a.bin', undefined, alice)).body
    await upload(s.url, randomBytesSeeded(12_000, 1252), { access_level: 'private' }, 'b.bin', undefined, alice)
    assert.deepEqual(await of(alice), { bytes: 42_000, files: 2, pins: 0, limits, exempt: false })
    assert.equal((await fetch(`${s.url}/api/media/${a.mediaId}/pin`, { method: 'PUT', headers: bearer(alice) })).status, 200)
    assert.equal((await of(alice)).pins, 1)

    // A file another key stored counts for each key that holds it.
    const bob = await signIn(s.url, await newIdentity())
    const claimed = await fetch(`${s.url}/api/media/${a.mediaId}/claim`, { method: 'POST', headers: { ...bearer(bob), 'Content-Type': 'application/json' }, body: JSON.stringify({ access_level: 'public' }) })
    assert.equal(claimed.status, 201)
    assert.deepEqual(await of(bob), { bytes: 30_000, files: 1, pins: 0, limits, exempt: false })

    assert.equal((await fetch(`${s.url}/api/media/${a.mediaId}`, { method: 'DELETE', headers: bearer(alice) })).status, 204)
    assert.deepEqual(await of(alice), { bytes: 12_000, files: 1, pins: 0, limits, exempt: false })
    assert.equal((await of(bob)).bytes, 30_000, "bob's record still holds it")

    const adminToken = await signIn(s.url, admin)
    const held = (await upload(s.url, randomBytesSeeded(8000, 1253), { access_level: 'public' }, 'c.bin', undefined, adminToken)).body
    assert.equal((await fetch(`${s.url}/api/media/${held.mediaId}/pin`, { method: 'PUT', headers: bearer(adminToken) })).status, 200)
    assert.deepEqual(await of(adminToken), { bytes: 0, files: 0, pins: 1, limits, exempt: true })
  })
})
