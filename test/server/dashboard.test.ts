/**
 * The dashboard's API: the bytes each file sent by source (GET /api/seeder/files) after real
 * downloads over the web seed and over TCP, who sees which file's counts, and the history of
 * samples (GET /api/seeder/history) in the caller's scope, with the disk against its low-water mark.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { after, test } from 'node:test'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent from 'webtorrent'
import type { SeederHistory, ServedFile } from '../../shared/media.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const FILE_SIZE = 2 * 1024 * 1024 + 777
const TIMEOUT = 60_000
const LOW_WATER = 12_345_678

const servers: TestServer[] = []
after(async () => { for (const s of servers) await s.destroy() })

async function start (env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ HISTORY_SAMPLE_SECONDS: '1', DISK_LOW_WATER_BYTES: String(LOW_WATER), ...env })
  servers.push(server)
  return server
}

/** Download a .torrent with a fresh client that can reach the server only the way the torrent says; the bytes. */
async function leech (torrentFile: Uint8Array, opts: { webSeeds: boolean }): Promise<Uint8Array> {
  const dir = await tempDir('oip-dash-leecher-')
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: opts.webSeeds })
  try {
    const torrent = client.add(torrentFile, { path: dir })
    await new Promise<void>((resolve, reject) => {
      torrent.once('done', () => resolve())
      torrent.once('error', reject)
      client.once('error', reject)
    })
    const file = torrent.files[0] as unknown as { arrayBuffer (): Promise<ArrayBuffer> }
    return new Uint8Array(await file.arrayBuffer())
  } finally {
    await new Promise<void>(resolve => client.destroy(() => resolve()))
    await fs.rm(dir, { recursive: true, force: true })
  }
}

async function served (server: TestServer, token?: string): Promise<ServedFile[]> {
  const res = await fetch(`${server.url}/api/seeder/files`, { headers: bearer(token) })
  assert.equal(res.status, 200)
  return (await res.json()).files
}

async function history (server: TestServer, token?: string): Promise<SeederHistory> {
  const res = await fetch(`${server.url}/api/seeder/history`, { headers: bearer(token) })
  assert.equal(res.status, 200)
  return await res.json()
}

/** Asks until `check` passes (the history takes a sample a second). */
async function eventually<T> (read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read()
    if (check(value)) return value
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

test('a download over the web seed counts under http, one over TCP under tcp, for that file', { timeout: TIMEOUT }, async () => {
  const server = await start()
  const bytes = randomBytesSeeded(FILE_SIZE, 71)
  const res = await upload(server.url, bytes, { access_level: 'public' }, 'dash.bin')
  assert.equal(res.status, 201)
  const { mediaId } = res.body
  const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${server.url}/api/media/${mediaId}/torrent`)).arrayBuffer()))
  assert.deepEqual(await served(server), [], 'nothing sent yet')

  // Only the web seed: WebTorrent's own HTTP client (its user agent says WebTorrent).
  const viaWebSeed = await leech(toTorrentFile({ ...torrent, announce: [], urlList: [`${server.url}/api/media/${mediaId}`] }), { webSeeds: true })
  assert.deepEqual(viaWebSeed, bytes)
  const [row] = await served(server)
  assert.ok(row, 'the file is listed')
  assert.equal(row.mediaId, mediaId)
  assert.equal(row.name, 'dash.bin')
  assert.equal(row.accessLevel, 'public')
  assert.ok(row.bytes.http >= FILE_SIZE, `web seed: ${row.bytes.http} bytes counted for a ${FILE_SIZE}-byte file`)
  assert.equal(row.bytes.tcp, 0)

  // Only TCP, through the HTTP tracker, no web seed.
  const viaTcp = await leech(toTorrentFile({ ...torrent, announce: [`${server.url}/announce`], urlList: [] }), { webSeeds: false })
  assert.deepEqual(viaTcp, bytes)
  const [both] = await served(server)
  assert.ok(both!.bytes.tcp >= FILE_SIZE, `TCP: ${both!.bytes.tcp} bytes counted for a ${FILE_SIZE}-byte file`)
  assert.equal(both!.bytes.http, row.bytes.http, 'the TCP download sent nothing over HTTP')
  assert.equal(both!.bytes.webrtc, 0)
  assert.equal(both!.total, both!.bytes.http + both!.bytes.tcp + both!.bytes.webrtc)

  // The same bytes in the history: a sample after the downloads shows them sent.
  const h = await eventually(() => history(server), h => h.samples.some(s => s.upload > 0))
  assert.ok(h.samples.length >= 2)
  assert.ok(h.samples.every((s, i) => i === 0 || s.at > h.samples[i - 1]!.at), 'samples are oldest first')
  assert.equal(h.intervalMs, 1000)
  assert.equal(h.windowMs, 360 * 1000)
  assert.equal(h.disk?.lowWater, LOW_WATER)
  assert.ok(h.disk!.size > 0 && h.disk!.free <= h.disk!.size, JSON.stringify(h.disk))
})

test('a private file\'s counts and traffic show to its owner only; a deleted file\'s go, and a file made private leaves the public list', { timeout: TIMEOUT }, async () => {
  const [owner, other, admin] = await Promise.all([newIdentity(), newIdentity(), newIdentity()])
  const server = await start({ ADMIN_PUBLIC_KEYS: admin.publicKey })
  const [ownerToken, otherToken, adminToken] = await Promise.all([owner, other, admin].map(async id => await signIn(server.url, id)))
  const bytes = randomBytesSeeded(FILE_SIZE, 72)
  const res = await upload(server.url, bytes, { access_level: 'private' }, 'diary.bin', undefined, ownerToken)
  assert.equal(res.status, 201)
  const { mediaId } = res.body
  const download = await fetch(`${server.url}/api/media/${mediaId}`, { headers: bearer(ownerToken) })
  assert.equal(download.status, 200)
  assert.equal((await download.arrayBuffer()).byteLength, FILE_SIZE)

  const [row] = await served(server, ownerToken)
  assert.ok(row, 'the owner sees their file')
  assert.equal(row.mediaId, mediaId)
  assert.equal(row.name, 'diary.bin')
  assert.equal(row.accessLevel, 'private')
  assert.equal(row.bytes.http, FILE_SIZE)
  assert.deepEqual(await served(server), [], 'anyone')
  assert.deepEqual(await served(server, otherToken), [], 'another key')
  assert.deepEqual(await served(server, adminToken), [], 'an admin sees private traffic in the totals, not whose file it was')

  // An admin's history counts private torrents; anyone else's, at the very same sample, does not.
  const forAdmin = await eventually(() => history(server, adminToken), h => h.samples.some(s => s.upload > 0))
  const sample = forAdmin.samples.find(s => s.upload > 0)!
  const forAnyone = (await history(server)).samples.find(s => s.at === sample.at)
  assert.equal(forAnyone?.upload, 0)

  // Deleted: its counts go with it.
  assert.equal((await fetch(`${server.url}/api/media/${mediaId}`, { method: 'DELETE', headers: bearer(ownerToken) })).status, 204)
  assert.deepEqual(await served(server, ownerToken), [])

  // A public file, downloaded, then made private: no longer in anyone's list.
  const shown = await upload(server.url, randomBytesSeeded(FILE_SIZE, 73), { access_level: 'public' }, 'was-public.bin', undefined, ownerToken)
  assert.equal(shown.status, 201)
  assert.equal((await (await fetch(`${server.url}/api/media/${shown.body.mediaId}`)).arrayBuffer()).byteLength, FILE_SIZE)
  assert.deepEqual((await served(server)).map(f => f.name), ['was-public.bin'])
  const patched = await fetch(`${server.url}/api/media/${shown.body.mediaId}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(ownerToken) }, body: JSON.stringify({ accessLevel: 'private' }) })
  assert.equal(patched.status, 200)
  assert.deepEqual(await served(server), [])
  // Public again: the same torrent, counted from nothing (what it sent before went with it).
  const republished = await fetch(`${server.url}/api/media/${shown.body.mediaId}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...bearer(ownerToken) }, body: JSON.stringify({ accessLevel: 'public' }) })
  assert.equal(republished.status, 200)
  assert.deepEqual(await served(server), [])
})

test('a bad limit for the files is refused with a message that says what to send', async () => {
  const server = await start()
  const res = await fetch(`${server.url}/api/seeder/files?limit=0`)
  assert.equal(res.status, 400)
  const body = await res.json()
  assert.equal(body.error.code, 'bad_limit')
  assert.match(body.error.message, /limit must be a whole number from 1 to 100/)
})
