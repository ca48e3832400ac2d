import assert from 'node:assert/strict'
import { test } from 'node:test'
import { storedMimeType } from './media.ts'
import { recordMedia, RecordMediaMismatch, type LocalMedia, type ServerMedia } from './recordMedia.ts'
import { validateRecord } from './record.ts'
import { magnetURI } from './torrent.ts'

const ORIGIN = 'https://media.example.org'
const MEDIA_ID = 'a1'.repeat(32)
const INFO_HASH = 'c3'.repeat(20)

const local: LocalMedia = { mediaId: MEDIA_ID, size: 1_048_576, infoHash: INFO_HASH, contentType: 'video/mp4', origin: ORIGIN }

/** What an honest server answers for that file: its magnet carries its trackers, web seed and .torrent URL. */
const honest = (): ServerMedia => ({
  mediaId: MEDIA_ID,
  magnetURI: magnetURI(INFO_HASH, 'sunset.mp4', {
    announce: ['wss://media.example.org/announce', 'https://media.example.org/announce'],
    urlList: [`${ORIGIN}/api/media/${MEDIA_ID}`],
    sources: [`${ORIGIN}/api/media/${MEDIA_ID}/torrent`]
  }),
  httpUrl: `${ORIGIN}/api/media/${MEDIA_ID}`,
  mimeType: 'video/mp4',
  fileSize: 1_048_576
})

test("an honest answer: the record's media fields are the browser's own, with the server's magnet for that infoHash", () => {
  const server = honest()
  const media = recordMedia(local, server)
  assert.deepEqual(media, { mediaId: MEDIA_ID, bittorrentAddress: server.magnetURI, httpUrl: `${ORIGIN}/api/media/${MEDIA_ID}`, contentType: 'video/mp4', size: 1_048_576 })
  validateRecord({
    type: 'media',
    basic: { name: 'Sunset', description: '', date: 1764072000, language: 'en', tagItems: [] },
    media,
    accessControl: { access_level: 'public', owner_public_key: `02${'11'.repeat(32)}` }
  })
  // The magnet may spell the hex infoHash in capitals: it still names the same torrent.
  const upper = { ...server, magnetURI: `magnet:?xt=urn:btih:${INFO_HASH.toUpperCase()}&dn=x` }
  assert.equal(recordMedia(local, upper).bittorrentAddress, upper.magnetURI)
})

const lies: Array<[string, Partial<ServerMedia>, RegExp]> = [
  ['another mediaId', { mediaId: 'b2'.repeat(32) }, /mediaId as "b2b2.*", but the SHA-256 this browser computed is "a1a1/],
  ['another size', { fileSize: 1_048_577 }, /size as "1048577", but the file's size here is "1048576"/],
  ['an httpUrl elsewhere', { httpUrl: `https://evil.example/api/media/${MEDIA_ID}` }, /httpUrl as "https:\/\/evil\.example.*", but this app's address for it is "https:\/\/media\.example\.org\/api\/media\/a1a1/],
  ['an httpUrl for another file here', { httpUrl: `${ORIGIN}/api/media/${'b2'.repeat(32)}` }, /httpUrl as/],
  ['a magnet for another torrent', { magnetURI: `magnet:?xt=urn:btih:${'d4'.repeat(20)}&dn=sunset.mp4` }, /magnet \(its infoHash\) as "d4d4.*", but the infoHash this browser checked against the file's pieces is "c3c3/],
  ['a magnet naming two torrents', { magnetURI: `magnet:?xt=urn:btih:${INFO_HASH}&xt=urn:btih:${'d4'.repeat(20)}` }, /magnet \(its infoHash\) as "none"/],
  ['a magnet with a base32 infoHash', { magnetURI: `magnet:?xt=urn:btih:${'A'.repeat(32)}` }, /magnet \(its infoHash\) as "none"/],
  ['a magnet that names no torrent', { magnetURI: `magnet:?dn=sunset.mp4&tr=${INFO_HASH}` }, /magnet \(its infoHash\) as "none"/],
  ['no magnet at all', { magnetURI: `https://evil.example/?xt=urn:btih:${INFO_HASH}` }, /magnet \(its infoHash\) as "none"/]
]

const withMagnet = (more: string): Partial<ServerMedia> => ({ magnetURI: `${honest().magnetURI}&${more}` })
const smuggled: Array<[string, Partial<ServerMedia>, RegExp]> = [
  ['a peer address (x.pe)', withMagnet('x.pe=203.0.113.9:6881'), /carries "x\.pe=203\.0\.113\.9:6881", which a record of yours may not/],
  ['words of its own', withMagnet('kt=buy+now'), /carries "kt=buy now"/],
  ['a tracker that is no URL', withMagnet('tr=not%20a%20url'), /carries "tr=not a url"/],
  ['a web seed that is no http URL', withMagnet('ws=javascript:alert(1)'), /carries "ws=javascript:alert\(1\)"/],
  ['a .torrent source over ftp', withMagnet('xs=ftp://evil.example/t'), /carries "xs=ftp:\/\/evil\.example\/t"/]
]
for (const [what, lie, message] of smuggled) {
  test(`a magnet with ${what} is refused: nothing of the server's own goes into a signed record`, () => {
    assert.throws(() => recordMedia(local, { ...honest(), ...lie }), (err: unknown) => {
      assert.ok(err instanceof RecordMediaMismatch)
      assert.match(err.message, /^Nothing was signed: the server's magnet link/)
      assert.match(err.message, message)
      return true
    })
  })
}

test('a magnet with another tracker or a udp one is the server\'s to name: accepted', () => {
  const server = withMagnet(`tr=${encodeURIComponent('udp://tracker.example:1337')}&tr=${encodeURIComponent('wss://other.example/announce')}`)
  assert.equal(recordMedia(local, { ...honest(), ...server }).bittorrentAddress, server.magnetURI)
})

for (const [what, lie, message] of lies) {
  test(`an answer with ${what} is refused, naming the field, and gives no media fields to sign`, () => {
    assert.throws(() => recordMedia(local, { ...honest(), ...lie }), (err: unknown) => {
      assert.ok(err instanceof RecordMediaMismatch)
      assert.match(err.message, /^Nothing was signed: the server's answer gives this file's /)
      assert.match(err.message, message)
      return true
    })
  })
}

test('the type a browser sends is stored lowercased, or as application/octet-stream when it is not a plain MIME type', () => {
  assert.equal(storedMimeType('Video/MP4'), 'video/mp4')
  assert.equal(storedMimeType(''), 'application/octet-stream')
  assert.equal(storedMimeType('text/plain; charset=utf-8'), 'application/octet-stream')
})

test("the signed type is the one this browser sent, whatever type the server's answer shows (the public face may be an earlier uploader's)", () => {
  assert.equal(recordMedia(local, { ...honest(), mimeType: 'text/html' }).contentType, 'video/mp4')
})
