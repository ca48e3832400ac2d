import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { AppError } from './errors.ts'
import { canonicalRecord, recordId, validateRecord, type OipMediaRecord } from './record.ts'
import { signRecord, verifyRecord } from './signing.ts'
import { createMnemonic, identityFromMnemonic } from './wallet.ts'

const ABANDON = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const owner = await identityFromMnemonic(ABANDON)
const other = await identityFromMnemonic(createMnemonic())

const MEDIA_ID = 'a'.repeat(64)

function sample (publicKey = owner.publicKey): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: 'Sunset', description: 'Waves at dusk — 4K', date: 1764072000, language: 'en', tagItems: ['sea', 'sunset'] },
    media: {
      mediaId: MEDIA_ID,
      bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}&dn=sunset.mp4`,
      httpUrl: `https://media.example.org/api/media/${MEDIA_ID}`,
      contentType: 'video/mp4',
      size: 1048576
    },
    accessControl: { access_level: 'public', owner_public_key: publicKey }
  }
}

const clone = <T>(v: T): T => structuredClone(v)

test('the canonical form is RFC 8785: sorted keys, no spaces, UTF-8 text as is', () => {
  assert.equal(canonicalRecord(sample()),
    '{"accessControl":{"access_level":"public","owner_public_key":"' + owner.publicKey + '"},' +
    '"basic":{"date":1764072000,"description":"Waves at dusk — 4K","language":"en","name":"Sunset","tagItems":["sea","sunset"]},' +
    '"media":{"bittorrentAddress":"magnet:?xt=urn:btih:' + 'b'.repeat(40) + '&dn=sunset.mp4","contentType":"video/mp4",' +
    '"httpUrl":"https://media.example.org/api/media/' + MEDIA_ID + '","mediaId":"' + MEDIA_ID + '","size":1048576},"type":"media"}')
})

test('the canonical form and the id do not depend on key order', () => {
  const r = sample()
  const shuffled = {
    accessControl: { owner_public_key: r.accessControl.owner_public_key, access_level: r.accessControl.access_level },
    media: { size: r.media.size, contentType: r.media.contentType, httpUrl: r.media.httpUrl, bittorrentAddress: r.media.bittorrentAddress, mediaId: r.media.mediaId },
    basic: { tagItems: r.basic.tagItems, language: r.basic.language, date: r.basic.date, description: r.basic.description, name: r.basic.name },
    type: r.type
  } satisfies OipMediaRecord
  assert.notEqual(JSON.stringify(shuffled), JSON.stringify(r))
  assert.equal(canonicalRecord(shuffled), canonicalRecord(r))
  assert.equal(recordId(shuffled), recordId(r))
})

test('the record id is the lowercase hex SHA-256 of the canonical JSON', () => {
  const r = sample()
  assert.equal(recordId(r), createHash('sha256').update(canonicalRecord(r), 'utf8').digest('hex'))
})

test('a record signed by its owner verifies, also after a JSON round trip', () => {
  const r = sample()
  const signature = signRecord(r, owner.privateKey)
  assert.equal(verifyRecord(r, signature), true)
  assert.equal(verifyRecord(JSON.parse(JSON.stringify(r)), signature), true, 'survives a JSON round trip')
})

/** Every leaf of the record, each with a changed value. */
function tamperings (r: OipMediaRecord): Array<[string, OipMediaRecord]> {
  const out: Array<[string, OipMediaRecord]> = []
  for (const [section, fields] of Object.entries(r)) {
    if (typeof fields !== 'object') {
      const t = clone(r) as any
      t[section] = `${fields}x`
      out.push([section, t])
      continue
    }
    for (const [field, value] of Object.entries(fields)) {
      const t = clone(r) as any
      t[section][field] = typeof value === 'number'
        ? value + 1
        : Array.isArray(value)
          ? [...value, 'extra']
          : field === 'access_level' ? 'private' : `${value}x`
      out.push([`${section}.${field}`, t])
    }
  }
  return out
}

test('changing any field breaks the signature', () => {
  const r = sample()
  const signature = signRecord(r, owner.privateKey)
  const cases = tamperings(r)
  assert.equal(cases.length, 1 + 5 + 5 + 2)
  for (const [field, t] of cases) assert.equal(verifyRecord(t, signature), false, field)
  const reordered = clone(r)
  reordered.basic.tagItems.reverse()
  assert.equal(verifyRecord(reordered, signature), false, 'tag order is part of the record')
})

test("another key's signature does not verify, whoever the record names", () => {
  const mine = sample()
  assert.equal(verifyRecord(mine, signRecord(mine, other.privateKey)), false)
  // A record naming someone else, signed by me: still not theirs.
  const theirs = sample(other.publicKey)
  assert.equal(verifyRecord(theirs, signRecord(theirs, owner.privateKey)), false)
  assert.equal(verifyRecord(theirs, signRecord(theirs, other.privateKey)), true)
  assert.equal(verifyRecord(mine, 'zz'), false)
})

test('a valid record passes validation unchanged, as a fresh copy', () => {
  const r = sample()
  const input = JSON.parse(JSON.stringify(r))
  const v = validateRecord(input)
  assert.deepEqual(v, r)
  assert.notEqual(v.basic, input.basic)
  assert.equal(canonicalRecord(v), canonicalRecord(r))
  assert.deepEqual(validateRecord({ ...r, basic: { ...r.basic, description: '', tagItems: [], language: 'zh-Hant-TW' } }).basic.tagItems, [])
})

const refused = (value: unknown, message: RegExp): void => {
  assert.throws(() => validateRecord(value), (err: unknown) => {
    assert.ok(err instanceof AppError)
    assert.equal(err.status, 400)
    assert.equal(err.code, 'bad_record')
    assert.match(err.message, message)
    return true
  })
}

const rejects = (mutate: (r: any) => void, message: RegExp): void => {
  const r = clone(sample()) as any
  mutate(r)
  refused(r, message)
}

test('validation names the wrong field and what it should be', () => {
  refused(undefined, /^record is missing\.$/)
  refused([], /^record must be a JSON object\.$/)
  rejects(r => { r.extra = 1 }, /record\.extra is not a known field \(record has: type, basic, media, accessControl\)/)
  rejects(r => { r.basic.extra = 1 }, /record\.basic\.extra is not a known field/)
  rejects(r => { r.type = 'image' }, /record\.type must be "media"/)
  rejects(r => { delete r.basic }, /record\.basic is missing/)
  rejects(r => { r.media = 'x' }, /record\.media must be a JSON object/)
  rejects(r => { delete r.basic.name }, /record\.basic\.name is missing/)
  rejects(r => { r.basic.name = 5 }, /record\.basic\.name must be a string/)
  rejects(r => { r.basic.name = '' }, /record\.basic\.name must not be empty/)
  rejects(r => { r.basic.name = 'n'.repeat(201) }, /record\.basic\.name must be at most 200 characters/)
  rejects(r => { r.basic.name = 'bad \uD800 half' }, /record\.basic\.name must be valid Unicode text/)
  rejects(r => { r.basic.tagItems = ['a\u0000'] }, /record\.basic\.tagItems\[0\] must not contain NUL/)
  rejects(r => { r.basic.description = 'd'.repeat(5001) }, /record\.basic\.description must be at most 5000 characters/)
  rejects(r => { r.basic.date = Date.now() * 1000 }, /record\.basic\.date must be a Unix time in whole seconds \(not milliseconds\)/)
  rejects(r => { r.basic.date = 1.5 }, /record\.basic\.date must be a Unix time/)
  rejects(r => { r.basic.date = '2026-01-01' }, /record\.basic\.date must be a Unix time/)
  rejects(r => { r.basic.language = 'English' }, /record\.basic\.language must be a language tag such as "en" or "pt-BR"/)
  rejects(r => { r.basic.tagItems = 'sea' }, /record\.basic\.tagItems must be an array of strings/)
  rejects(r => { r.basic.tagItems = Array.from({ length: 21 }, (_, i) => `t${i}`) }, /record\.basic\.tagItems must have at most 20 tags/)
  rejects(r => { r.basic.tagItems = ['ok', 7] }, /record\.basic\.tagItems\[1\] must be a string/)
  rejects(r => { r.basic.tagItems = ['t'.repeat(65)] }, /record\.basic\.tagItems\[0\] must be at most 64 characters/)
  rejects(r => { r.basic.tagItems = [''] }, /record\.basic\.tagItems\[0\] must not be empty/)
  rejects(r => { r.media.mediaId = 'A'.repeat(64) }, /record\.media\.mediaId must be the mediaId the upload answered: 64 lowercase hex/)
  rejects(r => { r.media.mediaId = 'a'.repeat(200) }, /record\.media\.mediaId must be the mediaId/)
  rejects(r => { r.media.bittorrentAddress = 'https://example.org/x.torrent' }, /record\.media\.bittorrentAddress must be the magnet URI of the torrent, starting with "magnet:\?xt=urn:btih:"/)
  rejects(r => { r.media.httpUrl = 'javascript:alert(1)' }, /record\.media\.httpUrl must be an http:\/\/ or https:\/\/ URL/)
  rejects(r => { r.media.httpUrl = 'not a url' }, /record\.media\.httpUrl must be an http/)
  rejects(r => { r.media.contentType = 'video' }, /record\.media\.contentType must be a lowercase MIME type/)
  rejects(r => { r.media.size = 0 }, /record\.media\.size must be the file size in bytes, a whole number above 0/)
  rejects(r => { r.media.size = 2.5 }, /record\.media\.size must be the file size/)
  rejects(r => { r.media.size = '10' }, /record\.media\.size must be the file size/)
  rejects(r => { r.accessControl.access_level = 'secret' }, /record\.accessControl\.access_level must be "public" or "private"/)
  rejects(r => { r.accessControl.owner_public_key = owner.publicKey.toUpperCase() }, /record\.accessControl\.owner_public_key must be your public key: 66 lowercase hex/)
  rejects(r => { delete r.accessControl.owner_public_key }, /record\.accessControl\.owner_public_key is missing/)
})

test('thumbnails: left out, the record is as before; named, 1 to 4 distinct mediaIds, never the file itself, and signed like every field', () => {
  const plain = validateRecord(clone(sample()))
  assert.equal('thumbnails' in plain.media, false, 'no key appears: records without thumbnails keep their canonical form and id')
  const thumbnail = 'c'.repeat(64)
  const withOne = clone(sample())
  withOne.media.thumbnails = [thumbnail]
  assert.deepEqual(validateRecord(clone(withOne)).media.thumbnails, [thumbnail])
  assert.match(canonicalRecord(withOne), new RegExp(`"size":1048576,"thumbnails":\\["${thumbnail}"\\]\\}`))
  assert.notEqual(recordId(withOne), recordId(sample()))
  assert.equal(verifyRecord(sample(), signRecord(withOne, owner.privateKey)), false, 'a signature over the thumbnails does not cover a record without them')

  rejects(r => { r.media.thumbnails = [] }, /record\.media\.thumbnails must be a non-empty array of mediaIds/)
  rejects(r => { r.media.thumbnails = thumbnail }, /record\.media\.thumbnails must be a non-empty array/)
  rejects(r => { r.media.thumbnails = ['https://elsewhere.example/t.webp'] }, /record\.media\.thumbnails\[0\] must be the mediaId of a thumbnail you uploaded/)
  rejects(r => { r.media.thumbnails = [thumbnail, MEDIA_ID] }, /record\.media\.thumbnails\[1\] must be a thumbnail, not the file itself/)
  rejects(r => { r.media.thumbnails = [thumbnail, thumbnail] }, /record\.media\.thumbnails\[1\] names the same thumbnail twice/)
  rejects(r => { r.media.thumbnails = ['1', '2', '3', '4', '5'].map(c => c.repeat(64)) }, /record\.media\.thumbnails must have at most 4 thumbnails/)
})
