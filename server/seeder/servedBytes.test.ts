import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ServedBytes, type ServedTorrent } from './servedBytes.ts'

const torrent = (n: number, kind: ServedTorrent['kind'] = 'public'): ServedTorrent => ({
  infoHash: n.toString(16).padStart(40, '0'),
  mediaId: n.toString(16).padStart(64, '0'),
  kind,
  ...(kind === 'private' ? { owner: `owner-${n}` } : {})
})

test('bytes are counted per torrent and source, most served first', () => {
  const served = new ServedBytes()
  served.count(torrent(1), 'http', 100)
  served.count(torrent(2), 'tcp', 500)
  served.count(torrent(1), 'webrtc', 50)
  served.count(torrent(1), 'http', 1)
  assert.deepEqual(served.mostServed().map(c => [c.torrent.mediaId, c.bytes, c.total]), [
    [torrent(2).mediaId, { http: 0, tcp: 500, webrtc: 0 }, 500],
    [torrent(1).mediaId, { http: 101, tcp: 0, webrtc: 50 }, 151]
  ])
})

test('totals: every torrent\'s in `all`, public torrents\' only in `public`', () => {
  const served = new ServedBytes()
  served.count(torrent(1), 'tcp', 10)
  served.count(torrent(2, 'private'), 'tcp', 1000)
  served.count(torrent(2, 'private'), 'http', 7)
  assert.deepEqual(served.totals.all, { http: 7, tcp: 1010, webrtc: 0 })
  assert.deepEqual(served.totals.public, { http: 0, tcp: 10, webrtc: 0 })
  assert.equal(served.mostServed()[0]!.torrent.owner, 'owner-2')
})

test('only the most recently served torrents are kept one by one; the totals keep everything', () => {
  const served = new ServedBytes(3)
  for (let n = 1; n <= 3; n++) served.count(torrent(n), 'http', n * 100)
  // Torrent 1 served again: now 2 is the least recent, and goes when a fourth comes.
  served.count(torrent(1), 'http', 1)
  served.count(torrent(4), 'http', 1)
  assert.deepEqual(served.mostServed().map(c => c.torrent.infoHash).sort(), [torrent(1), torrent(3), torrent(4)].map(t => t.infoHash))
  for (let n = 5; n <= 1000; n++) served.count(torrent(n), 'tcp', 1)
  assert.equal(served.mostServed().length, 3)
  assert.deepEqual(served.totals.all, { http: 602, tcp: 996, webrtc: 0 })
})

test('a forgotten torrent starts again from nothing; the totals stay', () => {
  const served = new ServedBytes()
  served.count(torrent(1), 'tcp', 10)
  served.forget(torrent(1).infoHash)
  assert.deepEqual(served.mostServed(), [])
  served.count(torrent(1), 'tcp', 3)
  assert.equal(served.mostServed()[0]!.total, 3)
  assert.equal(served.totals.all.tcp, 13)
})
