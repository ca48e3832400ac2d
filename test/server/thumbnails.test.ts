/**
 * Thumbnails named in signed records, against a real server on loopback: a record may name only
 * small WebP/JPEG files its owner uploaded with the file's access level (each other case refused
 * with a message, nothing stored changed); the file's /info and its owner's listing name the
 * thumbnail, listings do not show it as a file; a private file's thumbnail is read by its owner
 * and the keys the file is shared with, by nobody else; and it goes, or changes access, with
 * its file.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { AccessLevel, ServedFile, UploadResult } from '../../shared/media.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import { THUMBNAIL_MAX_BYTES } from '../../shared/thumbnail.ts'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

let server: TestServer
before(async () => { server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' }) })
after(async () => { await server.destroy() })

interface Key { identity: Identity, token: string }
const key = async (): Promise<Key> => {
  const identity = await newIdentity()
  return { identity, token: await signIn(server.url, identity) }
}

let seed = 7000
async function put (who: Key, level: AccessLevel, name: string, type: string, size = 20_000): Promise<UploadResult> {
  const res = await upload(server.url, randomBytesSeeded(size, seed++), { access_level: level }, name, type, who.token)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

function recordOf (who: Key, file: UploadResult, thumbnails?: unknown): OipMediaRecord {
  return {
    type: 'media',
    basic: { name: file.originalName, description: '', date: 1795000000, language: 'en', tagItems: [] },
    media: { mediaId: file.mediaId, bittorrentAddress: file.magnetURI, httpUrl: file.httpUrl, contentType: file.mimeType, size: file.fileSize, ...(thumbnails === undefined ? {} : { thumbnails: thumbnails as string[] }) },
    accessControl: { access_level: file.accessLevel, owner_public_key: who.identity.publicKey }
  }
}

/** `signed: false`: a record the wallet would not sign (signRecord checks its shape first); the server checks the shape before the signature. */
async function postRecord (who: Key, record: OipMediaRecord, signed = true): Promise<Response> {
  return await fetch(`${server.url}/api/records`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(who.token) },
    body: JSON.stringify({ record, signature: signed ? signRecord(record, who.identity.privateKey) : Buffer.alloc(65).toString('base64') })
  })
}

const get = async (path: string, who?: Key): Promise<Response> => await fetch(`${server.url}${path}`, { headers: bearer(who?.token) })
const info = async (mediaId: string, who?: Key): Promise<any> => await (await get(`/api/media/${mediaId}/info`, who)).json()
const listed = async (query: string, who?: Key): Promise<any[]> => (await (await get(`/api/media?${query}`, who)).json()).items

test('a public record names its thumbnail: /info and the owner\'s listing show it, no listing shows the thumbnail as a file', async () => {
  const alice = await key()
  const video = await put(alice, 'public', 'sea.webm', 'video/webm')
  const thumbnail = await put(alice, 'public', 'sea.webm.thumbnail.webp', 'image/webp', 12_000)
  assert.equal((await info(video.mediaId)).thumbnail, null, 'no record names one yet')
  assert.ok((await listed('owner=me', alice)).some(f => f.mediaId === thumbnail.mediaId), 'before the record, it is a file like any other')

  const res = await postRecord(alice, recordOf(alice, video, [thumbnail.mediaId]))
  assert.equal(res.status, 201, await res.clone().text())
  assert.deepEqual((await res.json()).record.media.thumbnails, [thumbnail.mediaId])

  assert.equal((await info(video.mediaId)).thumbnail, thumbnail.mediaId, 'anyone sees it in /info')
  assert.equal((await info(video.mediaId, alice)).thumbnail, thumbnail.mediaId)
  const mine = await listed('owner=me', alice)
  assert.deepEqual(mine.map(f => f.mediaId), [video.mediaId], 'My files lists the file, not its thumbnail')
  assert.equal(mine[0].thumbnail, thumbnail.mediaId)
  const everyone = (await listed('limit=100')).map(f => f.mediaId)
  assert.ok(everyone.includes(video.mediaId))
  assert.ok(!everyone.includes(thumbnail.mediaId), 'nor does the public listing')
  assert.equal((await get(`/api/media/${thumbnail.mediaId}`)).status, 200, 'its bytes are public like the file')
})

test('a record may name only small WebP/JPEG files its owner uploaded with the same access level: each refused with 409 bad_thumbnail, nothing changed', async () => {
  const alice = await key()
  const bob = await key()
  const photo = await put(alice, 'public', 'cliff.jpg', 'image/jpeg')
  const good = await put(alice, 'public', 'cliff.thumbnail.webp', 'image/webp', 10_000)
  assert.equal((await postRecord(alice, recordOf(alice, photo, [good.mediaId]))).status, 201)

  const cases: Array<[string, string, RegExp]> = [
    ["someone else's file", (await put(bob, 'public', 'bob.webp', 'image/webp')).mediaId, /not a file you uploaded/],
    ['a file never uploaded', 'e'.repeat(64), /not a file you uploaded/],
    ['a private file for a public record', (await put(alice, 'private', 'hidden.webp', 'image/webp')).mediaId, /is private and the file is public/],
    ['an SVG', (await put(alice, 'public', 'evil.svg', 'image/svg+xml')).mediaId, /must be image\/webp or image\/jpeg/],
    ['a PNG', (await put(alice, 'public', 'big.png', 'image/png')).mediaId, /must be image\/webp or image\/jpeg/],
    ['too many bytes', (await put(alice, 'public', 'huge.jpg', 'image/jpeg', THUMBNAIL_MAX_BYTES + 1)).mediaId, new RegExp(`at most ${THUMBNAIL_MAX_BYTES}`)]
  ]
  for (const [what, id, message] of cases) {
    const res = await postRecord(alice, recordOf(alice, { ...photo }, [id]))
    assert.equal(res.status, 409, what)
    const { error } = await res.json()
    assert.equal(error.code, 'bad_thumbnail', what)
    assert.match(error.message, message, what)
    assert.match(error.message, /record\.media\.thumbnails\[0\]/, what)
  }
  // The shape: 400 bad_record, naming the field.
  const shapes: Array<[string, unknown, RegExp]> = [
    ['not a mediaId', ['cliff.webp'], /thumbnails\[0\] must be the mediaId/],
    ['the file itself', [photo.mediaId], /not the file itself/],
    ['twice', [good.mediaId, good.mediaId], /thumbnails\[1\] names the same thumbnail twice/],
    ['five', ['1', '2', '3', '4', '5'].map(c => c.repeat(64)), /at most 4 thumbnails/],
    ['empty', [], /non-empty array/]
  ]
  for (const [what, thumbnails, message] of shapes) {
    const res = await postRecord(alice, recordOf(alice, photo, thumbnails), false)
    assert.equal(res.status, 400, what)
    const { error } = await res.json()
    assert.equal(error.code, 'bad_record', what)
    assert.match(error.message, message, what)
  }
  // What was stored before stays as it was: the good record and its thumbnail.
  assert.equal((await info(photo.mediaId)).thumbnail, good.mediaId)
  const records = (await (await get(`/api/records?owner=${alice.identity.publicKey}`)).json()).items
  assert.equal(records.length, 1)
  assert.deepEqual(records[0].record.media.thumbnails, [good.mediaId])
})

test("a private file's thumbnail: its owner and the keys the file is shared with read it, nobody else; a revoke shuts it", async () => {
  const alice = await key()
  const bob = await key()
  const carol = await key()
  const clip = await put(alice, 'private', 'family.webm', 'video/webm')
  const thumbnail = await put(alice, 'private', 'family.webm.thumbnail.webp', 'image/webp', 9_000)
  assert.equal((await postRecord(alice, recordOf(alice, clip, [thumbnail.mediaId]))).status, 201)

  assert.equal((await get(`/api/media/${thumbnail.mediaId}`, alice)).status, 200)
  assert.equal((await info(clip.mediaId, alice)).thumbnail, thumbnail.mediaId)
  for (const [who, k] of [['anonymous', undefined], ['another key', bob]] as const) {
    assert.equal((await get(`/api/media/${thumbnail.mediaId}`, k)).status, 404, who)
    assert.equal((await get(`/api/media/${thumbnail.mediaId}/info`, k)).status, 404, who)
  }

  const share = await fetch(`${server.url}/api/media/${clip.mediaId}/shares/${bob.identity.publicKey}`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(alice.token) }, body: '{}'
  })
  assert.equal(share.status, 200)
  assert.equal((await info(clip.mediaId, bob)).thumbnail, thumbnail.mediaId, 'the recipient sees which it is')
  const bytes = await get(`/api/media/${thumbnail.mediaId}`, bob)
  assert.equal(bytes.status, 200, 'and reads it')
  assert.equal(bytes.headers.get('content-type'), 'image/webp')
  assert.equal((await bytes.arrayBuffer()).byteLength, 9_000)
  const shared = await listed('shared=me', bob)
  assert.deepEqual(shared.map(f => [f.mediaId, f.thumbnail]), [[clip.mediaId, thumbnail.mediaId]], 'Shared with me lists the file with its thumbnail')
  assert.equal((await get(`/api/media/${thumbnail.mediaId}`, carol)).status, 404, 'a key it is not shared with does not')

  assert.equal((await fetch(`${server.url}/api/media/${clip.mediaId}/shares/${bob.identity.publicKey}`, { method: 'DELETE', headers: bearer(alice.token) })).status, 204)
  assert.equal((await get(`/api/media/${thumbnail.mediaId}`, bob)).status, 404, 'revoked: as for a missing id')
})

test('a thumbnail changes access with its file, and is deleted with it', async () => {
  const alice = await key()
  const song = await put(alice, 'public', 'song.mp4', 'video/mp4')
  const thumbnail = await put(alice, 'public', 'song.mp4.thumbnail.jpg', 'image/jpeg', 8_000)
  assert.equal((await postRecord(alice, recordOf(alice, song, [thumbnail.mediaId]))).status, 201)

  const edit = await fetch(`${server.url}/api/media/${song.mediaId}`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(alice.token) }, body: JSON.stringify({ accessLevel: 'private' })
  })
  assert.equal(edit.status, 200)
  assert.equal((await get(`/api/media/${thumbnail.mediaId}`)).status, 404, 'private with its file: the public no longer reads it')
  const mine = await (await get(`/api/media/${thumbnail.mediaId}/info`, alice)).json()
  assert.equal(mine.accessLevel, 'private')
  // The edit dropped the signed record; the owner signs the same thumbnail into the new one.
  const now = await (await get(`/api/media/${song.mediaId}/info`, alice)).json()
  const resigned = await postRecord(alice, recordOf(alice, { ...song, accessLevel: 'private', magnetURI: now.magnetURI }, [thumbnail.mediaId]))
  assert.equal(resigned.status, 201, await resigned.clone().text())
  assert.deepEqual((await listed('owner=me', alice)).map(f => f.mediaId), [song.mediaId])

  assert.equal((await fetch(`${server.url}/api/media/${song.mediaId}`, { method: 'DELETE', headers: bearer(alice.token) })).status, 204)
  assert.equal((await get(`/api/media/${thumbnail.mediaId}`, alice)).status, 404, 'the thumbnail went with the file')
  assert.deepEqual(await listed('owner=me', alice), [])
})

test("the dashboard's bytes by file name a thumbnail after its file: a public one for anyone, a private one for its owner only", async () => {
  const alice = await key()
  const bob = await key()
  const served = async (who?: Key): Promise<ServedFile[]> => (await (await get('/api/seeder/files?limit=100', who)).json()).files
  const rowOf = async (mediaId: string, who?: Key): Promise<ServedFile | undefined> => (await served(who)).find(f => f.mediaId === mediaId)

  const film = await put(alice, 'public', 'harbour.webm', 'video/webm')
  const poster = await put(alice, 'public', 'harbour.webm.thumbnail.webp', 'image/webp', 8_000)
  assert.equal((await postRecord(alice, recordOf(alice, film, [poster.mediaId]))).status, 201)
  assert.equal((await (await get(`/api/media/${poster.mediaId}`)).arrayBuffer()).byteLength, 8_000)
  assert.deepEqual((await rowOf(poster.mediaId))?.thumbnailOf, { mediaId: film.mediaId, name: 'harbour.webm' })
  assert.equal((await (await get(`/api/media/${film.mediaId}`)).arrayBuffer()).byteLength, 20_000)
  assert.equal((await rowOf(film.mediaId))?.thumbnailOf, undefined, 'the file itself is no thumbnail')

  const diary = await put(alice, 'private', 'diary.webm', 'video/webm')
  const cover = await put(alice, 'private', 'diary.webm.thumbnail.webp', 'image/webp', 7_000)
  assert.equal((await postRecord(alice, recordOf(alice, diary, [cover.mediaId]))).status, 201)
  assert.equal((await (await get(`/api/media/${cover.mediaId}`, alice)).arrayBuffer()).byteLength, 7_000)
  assert.deepEqual((await rowOf(cover.mediaId, alice))?.thumbnailOf, { mediaId: diary.mediaId, name: 'diary.webm' })
  assert.equal(await rowOf(cover.mediaId, bob), undefined, 'another key sees neither the private thumbnail nor its file')
  assert.equal(await rowOf(cover.mediaId), undefined)
})
