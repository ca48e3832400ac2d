import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { Hono } from 'hono'
import { AppError, notFound } from '../../shared/errors.ts'
import type { AccessLevel } from '../../shared/media.ts'
import { canonicalRecord, recordId, type OipMediaRecord } from '../../shared/record.ts'
import { bitcoinMessageHash, recordMessage, signRecord } from '../../shared/signing.ts'
import { createMnemonic, identityFromMnemonic, type Identity } from '../../shared/wallet.ts'
import type { AppEnv } from '../app.ts'
import { recordRoutes } from '../routes/records.ts'
import { DatabaseRecordRepository } from './databaseRecordRepository.ts'
import { DatabaseOipRecordRepository, newRecordRow } from './oipRecordRepository.ts'
import { OipRecordService } from './oipRecordService.ts'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'

const alice = await identityFromMnemonic(createMnemonic())
const bob = await identityFromMnemonic(createMnemonic())

const mediaIdOf = (text: string): string => createHash('sha256').update(text).digest('hex')

/** A fresh database of this kind; `upload` gives a key a media_records row, as an upload would. */
async function setup (kind: DatabaseKind, t: TestContext): Promise<{ service: OipRecordService, records: DatabaseOipRecordRepository, upload: (who: Identity, mediaId: string, accessLevel?: AccessLevel) => Promise<void> }> {
  const { db, dialect } = await openTestDatabase(kind, t)
  const uploads = new DatabaseRecordRepository(db, dialect)
  const records = new DatabaseOipRecordRepository(db, dialect)
  let time = Date.parse('2026-11-25T12:00:00Z')
  const service = new OipRecordService({
    records,
    // The facts recordFor's records state, for any upload the key holds.
    upload: async (mediaId, owner) => {
      const held = await uploads.get(mediaId, owner)
      return held && { accessLevel: held.accessLevel, mimeType: 'video/mp4', fileSize: 1000, httpUrl: `https://media.example.org/api/media/${mediaId}`, infoHash: mediaId.slice(0, 40) }
    },
    now: () => new Date(time += 1000)
  })
  const upload = async (who: Identity, mediaId: string, accessLevel: AccessLevel = 'public'): Promise<void> => {
    await uploads.ensure({ mediaId, owner: who.publicKey, accessLevel, name: null, description: null, originalName: 'f.bin', mimeType: 'video/mp4', torrentSalt: null, privateInfoHash: null })
  }
  return { service, records, upload }
}

function recordFor (who: Identity, mediaId: string, opts: { access?: AccessLevel, name?: string, description?: string, tags?: string[] } = {}): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: opts.name ?? 'Clip', description: opts.description ?? '', date: 1764072000, language: 'en', tagItems: opts.tags ?? [] },
    media: {
      mediaId,
      bittorrentAddress: `magnet:?xt=urn:btih:${mediaId.slice(0, 40)}`,
      httpUrl: `https://media.example.org/api/media/${mediaId}`,
      contentType: 'video/mp4',
      size: 1000
    },
    accessControl: { access_level: opts.access ?? 'public', owner_public_key: who.publicKey }
  }
}

const signed = (record: OipMediaRecord, who: Identity): { record: OipMediaRecord, signature: string } => ({ record, signature: signRecord(record, who.privateKey) })

/** Signed without our checks, as another wallet may sign any text (BIP-137, compressed key). */
function signedAsIs (record: OipMediaRecord, who: Identity): { record: OipMediaRecord, signature: string } {
  const signature = secp256k1.sign(bitcoinMessageHash(recordMessage(record)), who.privateKey, { prehash: false, lowS: true, format: 'recovered' })
  signature[0] = 31 + signature[0]!
  return { record, signature: Buffer.from(signature).toString('base64') }
}

/** The format records were signed in before: compact hex ECDSA over SHA-256 of the bare canonical JSON. */
const legacySignature = (record: OipMediaRecord, who: Identity): string => bytesToHex(secp256k1.sign(utf8ToBytes(canonicalRecord(record)), who.privateKey, { lowS: true }))

async function rejects (fn: () => Promise<unknown>, status: number, code: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(fn, refusal(status, code, message))
}

function refusal (status: number, code: string, message?: string | RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, String(err))
    assert.equal(err.status, status)
    assert.equal(err.code, code)
    if (typeof message === 'string') assert.equal(err.message, message)
    else if (message) assert.match(err.message, message)
    return true
  }
}

/** alice: public "Sea sunset" (tags sea, sunset), public "Forest 100% green" (tags forest), private "Sea diary"; bob: public "Bob at sea" (tags sea). */
async function library (kind: DatabaseKind, t: TestContext): Promise<{ service: OipRecordService, ids: Record<string, string> }> {
  const { service, upload } = await setup(kind, t)
  const ids: Record<string, string> = {}
  const add = async (key: string, who: Identity, access: AccessLevel, name: string, tags: string[], description = ''): Promise<void> => {
    const m = mediaIdOf(key)
    await upload(who, m, access)
    ids[key] = (await service.create(who.publicKey, signed(recordFor(who, m, { access, name, tags, description }), who))).record.recordId
  }
  await add('sunset', alice, 'public', 'Sea sunset', ['sea', 'sunset'])
  await add('forest', alice, 'public', 'Forest 100% green', ['forest'], 'Walk in the WOODS')
  await add('diary', alice, 'private', 'Sea diary', ['sea'])
  await add('bob', bob, 'public', 'Bob at sea', ['sea'])
  return { service, ids }
}

const names = (r: { items: Array<{ record: OipMediaRecord }> }): string[] => r.items.map(i => i.record.basic.name)

describeEachDatabase('OIP records', kind => {
  test('a record signed by its owner for their own upload is stored once: 201, then 200 with the same record', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    const body = signed(recordFor(alice, m, { name: 'Sunset' }), alice)
    const first = await service.create(alice.publicKey, body)
    assert.equal(first.status, 201)
    assert.equal(first.record.recordId, recordId(body.record))
    assert.deepEqual(first.record.record, body.record)
    assert.equal(first.record.signature, body.signature)
    assert.equal(first.record.signatureFormat, 'bitcoin-message-v1')
    const again = await service.create(alice.publicKey, body)
    assert.equal(again.status, 200)
    assert.deepEqual(again.record, first.record)
    assert.deepEqual((await service.get(first.record.recordId, undefined)), first.record)
  })

  test('the same record posted five times at once is stored once: one 201, four 200 with that record', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    const body = signed(recordFor(alice, m), alice)
    const answers = await Promise.all(Array.from({ length: 5 }, async () => await service.create(alice.publicKey, body)))
    assert.deepEqual(answers.map(a => a.status).sort(), [200, 200, 200, 200, 201])
    assert.equal(new Set(answers.map(a => JSON.stringify(a.record))).size, 1)
    assert.equal((await service.list(undefined, { limit: 50 })).items.length, 1)
  })

  test('creating needs a signed-in caller', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    await rejects(() => service.create(undefined, signed(recordFor(alice, m), alice)), 401, 'login_required', /Sign in/)
  })

  test('a malformed record or a missing signature is a 400 that says what to fix', async t => {
    const { service } = await setup(kind, t)
    await rejects(() => service.create(alice.publicKey, { signature: 'ab' }), 400, 'bad_record', 'record is missing.')
    const bad = { ...recordFor(alice, mediaIdOf('one')), extra: true }
    await rejects(() => service.create(alice.publicKey, { record: bad, signature: 'ab' }), 400, 'bad_record', /record\.extra is not a known field/)
    await rejects(() => service.create(alice.publicKey, { record: recordFor(alice, mediaIdOf('one')) }), 400, 'missing_signature', /signature/)
  })

  // PostgreSQL's text holds no NUL: it would fail the insert (a 500), where SQLite stored it.
  test('a signed record with a NUL character in its text is a 400 naming the field, and nothing is stored', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    for (const record of [recordFor(alice, m, { name: 'a\u0000b' }), recordFor(alice, m, { description: 'a\u0000' }), recordFor(alice, m, { tags: ['ok', '\u0000'] })]) {
      await rejects(() => service.create(alice.publicKey, signedAsIs(record, alice)), 400, 'bad_record', /^record\.basic\.(name|description|tagItems\[1\]) must not contain NUL \(\\u0000\)/)
    }
    assert.deepEqual((await service.list(alice.publicKey, { limit: 50 })).items, [])
  })

  test('a record signed in the old format is refused with 400 legacy_signature, and nothing is stored', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    const record = recordFor(alice, m)
    await rejects(() => service.create(alice.publicKey, { record, signature: legacySignature(record, alice) }), 400, 'legacy_signature', /old signature format.*Bitcoin signed message/)
    await rejects(() => service.get(recordId(record), alice.publicKey), 404, 'not_found')
  })

  test('a stored old-format record is answered with its format named, and its owner signing it anew replaces the signature', async t => {
    const { service, records, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    const record = recordFor(alice, m, { name: 'Old' })
    const id = recordId(record)
    // As a database from before the Bitcoin message format holds it.
    await records.save(newRecordRow(record, legacySignature(record, alice), new Date('2026-01-01T00:00:00.000Z')))
    assert.equal((await service.get(id, undefined)).signatureFormat, 'legacy-raw-sha256')
    assert.equal((await service.list(undefined, { limit: 10 })).items[0]!.signatureFormat, 'legacy-raw-sha256')
    // Bob cannot re-sign alice's record, whatever he signs it with.
    await rejects(() => service.create(bob.publicKey, signed(record, bob)), 401, 'bad_signature')
    await rejects(() => service.create(bob.publicKey, signed(record, alice)), 403, 'not_owner')
    assert.equal((await service.get(id, undefined)).signatureFormat, 'legacy-raw-sha256')
    const fresh = signed(record, alice)
    const answer = await service.create(alice.publicKey, fresh)
    assert.equal(answer.status, 200)
    assert.equal(answer.record.recordId, id, 'the same record: the same id')
    assert.equal(answer.record.signature, fresh.signature)
    assert.equal(answer.record.signatureFormat, 'bitcoin-message-v1')
    assert.equal(answer.record.createdAt, '2026-01-01T00:00:00.000Z', 'still the record published then')
    assert.deepEqual((await service.get(id, undefined)), answer.record)
  })

  test('a signature that does not match the record is refused with 401 bad_signature', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m)
    const { record, signature } = signed(recordFor(alice, m), alice)
    await rejects(() => service.create(alice.publicKey, { record: { ...record, basic: { ...record.basic, name: 'Changed' } }, signature }), 401, 'bad_signature')
    // Signed by bob but naming alice as the owner.
    await rejects(() => service.create(alice.publicKey, signed(record, bob)), 401, 'bad_signature', /accessControl\.owner_public_key/)
    await rejects(() => service.create(alice.publicKey, { record, signature: 'not hex' }), 401, 'bad_signature')
  })

  test("a record of another key is refused with 403 not_owner, even with that key's valid signature", async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(bob, m)
    await rejects(() => service.create(alice.publicKey, signed(recordFor(bob, m), bob)), 403, 'not_owner', /signed by the key you are signed in with/)
  })

  test('a record for media the caller never uploaded is the same 404 as a missing media id, even when someone else holds it', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await rejects(() => service.create(alice.publicKey, signed(recordFor(alice, m), alice)), 404, 'not_found', notFound().message)
    await upload(bob, m, 'private')
    await rejects(() => service.create(alice.publicKey, signed(recordFor(alice, m), alice)), 404, 'not_found', notFound().message)
  })

  test("a record whose access level differs from the upload's is a 409 access_mismatch", async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('one')
    await upload(alice, m, 'private')
    await rejects(() => service.create(alice.publicKey, signed(recordFor(alice, m, { access: 'public' }), alice)), 409, 'access_mismatch',
      'You uploaded this media as private, but the record says public. Set accessControl.access_level to "private" and sign again.')
    assert.equal((await service.create(alice.publicKey, signed(recordFor(alice, m, { access: 'private' }), alice))).status, 201)
  })

  test('a private record is read only by its owner; everyone else gets the 404 of a missing id', async t => {
    const { service, upload } = await setup(kind, t)
    const m = mediaIdOf('secret')
    await upload(alice, m, 'private')
    const { record } = await service.create(alice.publicKey, signed(recordFor(alice, m, { access: 'private' }), alice))
    assert.deepEqual((await service.get(record.recordId, alice.publicKey)), record)
    let missing = ''
    try { await service.get('f'.repeat(64), undefined) } catch (err) { missing = (err as AppError).message }
    assert.match(missing, /No record with this id/)
    await rejects(() => service.get(record.recordId, bob.publicKey), 404, 'not_found', missing)
    await rejects(() => service.get(record.recordId, undefined), 404, 'not_found', missing)
    await rejects(() => service.get('../etc', undefined), 404, 'not_found', missing)
  })

  test('listing shows public records to everyone and private ones only to their owner, newest first', async t => {
    const { service } = await library(kind, t)
    assert.deepEqual(names(await service.list(undefined, { limit: 50 })), ['Bob at sea', 'Forest 100% green', 'Sea sunset'])
    assert.deepEqual(names(await service.list(bob.publicKey, { limit: 50 })), ['Bob at sea', 'Forest 100% green', 'Sea sunset'])
    assert.deepEqual(names(await service.list(alice.publicKey, { limit: 50 })), ['Bob at sea', 'Sea diary', 'Forest 100% green', 'Sea sunset'])
    // Asking for alice's records by her key does not open her private ones to others.
    assert.deepEqual(names(await service.list(bob.publicKey, { owner: alice.publicKey, limit: 50 })), ['Forest 100% green', 'Sea sunset'])
    assert.deepEqual(names(await service.list(alice.publicKey, { owner: alice.publicKey, limit: 50 })), ['Sea diary', 'Forest 100% green', 'Sea sunset'])
  })

  test('listing filters by type, exact tag and a literal, case-insensitive text in name or description', async t => {
    const { service } = await library(kind, t)
    assert.equal((await service.list(undefined, { type: 'media', limit: 50 })).items.length, 3)
    assert.equal((await service.list(undefined, { type: 'image', limit: 50 })).items.length, 0)
    assert.deepEqual(names(await service.list(alice.publicKey, { tag: 'sea', limit: 50 })), ['Bob at sea', 'Sea diary', 'Sea sunset'])
    assert.deepEqual(names(await service.list(undefined, { tag: 'se', limit: 50 })), [])
    assert.deepEqual(names(await service.list(undefined, { tag: 'sea', owner: bob.publicKey, limit: 50 })), ['Bob at sea'])
    assert.deepEqual(names(await service.list(undefined, { q: 'SEA', limit: 50 })), ['Bob at sea', 'Sea sunset'])
    assert.deepEqual(names(await service.list(undefined, { q: 'woods', limit: 50 })), ['Forest 100% green'])
    assert.deepEqual(names(await service.list(undefined, { q: '100%', limit: 50 })), ['Forest 100% green'])
    assert.deepEqual(names(await service.list(undefined, { q: '0_', limit: 50 })), [], '_ is not a wildcard')
  })

  // PostgreSQL's lower() follows the database's locale (the harness's is C.UTF-8, as on many
  // installs) and would fold É to é; SQLite's folds ASCII only.
  test('text search folds ASCII letters only, and matches a backslash literally', async t => {
    const { service, upload } = await setup(kind, t)
    for (const [name, description] of [['ÉTÉ in Paris', 'C:\\clips'], ['été à Nice', '']] as const) {
      const m = mediaIdOf(name)
      await upload(alice, m)
      await service.create(alice.publicKey, signed(recordFor(alice, m, { name, description }), alice))
    }
    assert.deepEqual(names(await service.list(undefined, { q: 'PARIS', limit: 50 })), ['ÉTÉ in Paris'])
    assert.deepEqual(names(await service.list(undefined, { q: 'ÉTÉ', limit: 50 })), ['ÉTÉ in Paris'])
    assert.deepEqual(names(await service.list(undefined, { q: 'été', limit: 50 })), ['été à Nice'])
    assert.deepEqual(names(await service.list(undefined, { q: 'c:\\', limit: 50 })), ['ÉTÉ in Paris'])
  })

  test('listing pages newest first with a cursor until nextCursor is null', async t => {
    const { service } = await library(kind, t)
    const first = (await service.list(alice.publicKey, { limit: 3 }))
    assert.deepEqual(names(first), ['Bob at sea', 'Sea diary', 'Forest 100% green'])
    assert.notEqual(first.nextCursor, null)
    const second = (await service.list(alice.publicKey, { limit: 3, cursor: first.nextCursor! }))
    assert.deepEqual(names(second), ['Sea sunset'])
    assert.equal(second.nextCursor, null)
  })

  test('listing refuses a malformed owner or an empty or overlong filter', async t => {
    const { service } = await library(kind, t)
    await rejects(() => service.list(undefined, { owner: 'me', limit: 50 }), 400, 'bad_query', /owner must be a public key/)
    await rejects(() => service.list(undefined, { tag: '', limit: 50 }), 400, 'bad_query', 'tag must be 1 to 64 characters.')
    await rejects(() => service.list(undefined, { q: 'x'.repeat(201), limit: 50 }), 400, 'bad_query', 'q must be 1 to 200 characters.')
    // Text PostgreSQL cannot compare (a 500 there), and no record holds.
    for (const filter of ['type', 'tag', 'q']) {
      await rejects(() => service.list(undefined, { [filter]: 'a\u0000', limit: 50 }), 400, 'bad_query', `${filter} must not contain NUL (\\u0000).`)
    }
  })

  test("removing an owner's media removes their records for it, and nobody else's", async t => {
    const { service, records, upload } = await setup(kind, t)
    const m = mediaIdOf('shared')
    await upload(alice, m)
    await upload(bob, m)
    await service.create(alice.publicKey, signed(recordFor(alice, m, { name: 'A' }), alice))
    await service.create(alice.publicKey, signed(recordFor(alice, m, { name: 'A2' }), alice))
    await service.create(bob.publicKey, signed(recordFor(bob, m, { name: 'B' }), bob))
    assert.equal(await records.removeForMedia(m, alice.publicKey), 2)
    assert.deepEqual(names(await service.list(undefined, { limit: 50 })), ['B'])
  })

  test('over HTTP: 201 then 200 on POST, the record on GET, paging, limits and body size checked', async t => {
    const { service, upload } = await setup(kind, t)
    const app = new Hono<AppEnv>()
    app.onError((err, c) => err instanceof AppError ? c.json({ error: { code: err.code, message: err.message } }, err.status as 400) : c.json({ error: err.message }, 500))
    // Stands in for the bearer-token middleware of app.ts.
    app.use('*', async (c, next) => {
      const key = c.req.header('x-test-caller')
      if (key) c.set('caller', key)
      await next()
    })
    app.route('/api/records', recordRoutes(service))
    const m = mediaIdOf('http')
    await upload(alice, m)
    const post = async (): Promise<Response> => await app.request('/api/records', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-caller': alice.publicKey },
      body: JSON.stringify(signed(recordFor(alice, m), alice))
    })
    const created = await post()
    assert.equal(created.status, 201)
    const stored = await created.json()
    assert.equal((await post()).status, 200)
    assert.deepEqual(await (await app.request(`/api/records/${stored.recordId}`)).json(), stored)
    const list = await (await app.request(`/api/records?owner=${alice.publicKey}&type=media&limit=1`)).json()
    assert.deepEqual(list.items, [stored])
    assert.equal((await app.request('/api/records?limit=0')).status, 400)
    assert.equal((await app.request('/api/records?limit=101')).status, 400)
    assert.equal((await app.request('/api/records?cursor=abc')).status, 400)
    // Past 2^53 a number is not exact, and PostgreSQL refused 1e+30 as a bigint (a 500).
    assert.equal((await (await app.request('/api/records?cursor=1e30')).json()).error.code, 'bad_cursor')
    assert.equal((await app.request('/api/records', { method: 'POST', body: 'nope' })).status, 400)
    const huge = await app.request('/api/records', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(200_000) }) })
    assert.equal(huge.status, 413)
    assert.equal((await huge.json()).error.code, 'too_large')
    assert.equal((await app.request(`/api/records/${'0'.repeat(64)}`)).status, 404)
  })
})
