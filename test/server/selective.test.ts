/**
 * Selective seeding: at most SEED_MAX_ACTIVE torrents are active; the least recently wanted go
 * idle and come back when wanted; owners pin files to keep them active, across restarts.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { after, describe, test } from 'node:test'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, tempDir, upload, type TestServer } from '../helpers/server.ts'

const metric = (text: string, name: string): number => Number(text.split('\n').find(l => l.startsWith(`${name} `))?.split(' ')[1])

describe('at most SEED_MAX_ACTIVE torrents are active', () => {
  let server: TestServer
  after(async () => { await server?.destroy() })

  test('the least recently wanted goes idle, and a request for its .torrent or bytes brings it back', async () => {
    server = await startTestServer({ SEED_MAX_ACTIVE: '2' })
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await upload(server.url, randomBytesSeeded(30_000, 600 + i))).body.mediaId)
    const state = async (id: string): Promise<string> => (await (await fetch(`${server.url}/api/media/${id}/info`)).json()).seeding.state
    assert.deepEqual([await state(ids[0]!), await state(ids[1]!), await state(ids[2]!)], ['idle', 'active', 'active'])

    // The .torrent is answered once the torrent is up again; the oldest unwanted one makes room.
    assert.equal((await fetch(`${server.url}/api/media/${ids[0]}/torrent`)).status, 200)
    assert.deepEqual([await state(ids[0]!), await state(ids[1]!), await state(ids[2]!)], ['active', 'idle', 'active'])

    // The bytes are served at once; the torrent comes up beside them.
    assert.equal((await fetch(`${server.url}/api/media/${ids[1]}`, { headers: { Range: 'bytes=0-9' } })).status, 206)
    for (let i = 0; i < 100 && await state(ids[1]!) !== 'active'; i++) await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(await state(ids[1]!), 'active')
    assert.equal(await state(ids[2]!), 'idle', 'the one nobody asked for went idle')

    const stats = (await server.seeder.getStats())
    assert.equal(stats.seedingCount, 3)
    assert.equal(stats.activeTorrents, 2)
    const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()
    assert.equal(metric(text, 'oip_seeding_files'), 3)
    assert.equal(metric(text, 'oip_torrents_active'), 2)
    assert.equal(metric(text, 'oip_torrents_idle'), 1)
  })
})

describe('pinning', () => {
  const dirs: string[] = []
  let server: TestServer | undefined
  after(async () => {
    await server?.close()
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  })

  const pin = async (id: string, token: string | undefined, method: 'PUT' | 'DELETE' = 'PUT'): Promise<Response> =>
    await fetch(`${server!.url}/api/media/${id}/pin`, { method, headers: bearer(token) })
  const info = async (id: string, token?: string): Promise<any> => await (await fetch(`${server!.url}/api/media/${id}/info`, { headers: bearer(token) })).json()

  test('only the owner pins; a pinned file stays active while others come and go, and after a restart', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    // Two active slots: one may be pinned, one is left for files wanted on demand.
    server = await startTestServer({ SEED_MAX_ACTIVE: '2', ALLOW_ANONYMOUS_UPLOADS: 'false' }, { dir })
    const ownerKey = await newIdentity()
    const owner = await signIn(server.url, ownerKey)
    const other = await signIn(server.url, await newIdentity())
    const up = async (seed: number, access = 'public', token = owner): Promise<any> => (await upload(server!.url, randomBytesSeeded(20_000, seed), { access_level: access }, `f${seed}.bin`, undefined, token)).body
    const pinned = await up(610)
    const secret = await up(611, 'private')

    assert.equal((await pin(pinned.mediaId, undefined)).status, 401)
    assert.equal((await pin(pinned.mediaId, other)).status, 404, 'a public file that is not yours: not found, like the rest of the API')
    assert.equal((await pin(secret.mediaId, other)).status, 404, "someone else's private file: not found")
    assert.equal((await pin('f'.repeat(64), owner)).status, 404)
    const res = await pin(pinned.mediaId, owner)
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.equal(body.pinned, true)
    assert.equal(body.seeding.state, 'active')

    const refused = await pin(secret.mediaId, owner)
    assert.equal(refused.status, 409, 'half the slots (1 of 2) are already pinned')
    const error = (await refused.json()).error
    assert.equal(error.code, 'pin_limit')
    assert.match(error.message, /Unpin another file first, or ask the operator to raise SEED_MAX_ACTIVE/)

    assert.equal((await info(pinned.mediaId, owner)).seeding.pinned, true)
    assert.equal((await info(pinned.mediaId)).seeding.pinned, undefined, 'only the owner sees the pin')
    assert.equal((await info(pinned.mediaId, other)).seeding.pinned, undefined)

    // Newer files are wanted more, yet the pinned one stays.
    const newer = [await up(612), await up(613)]
    for (const f of newer) await fetch(`${server.url}/api/media/${f.mediaId}/torrent`)
    assert.equal((await info(pinned.mediaId)).seeding.state, 'active')
    assert.equal((await info(newer[0].mediaId)).seeding.state, 'idle')
    assert.equal((await info(newer[1].mediaId)).seeding.state, 'active')

    await server.close()
    server = await startTestServer({ SEED_MAX_ACTIVE: '2' }, { dir })
    assert.equal((await info(pinned.mediaId)).seeding.state, 'active', 'pinned torrents come up first')
    assert.equal((await info(pinned.mediaId, await signIn(server.url, (await newIdentity())))).seeding.pinned, undefined)

    // Unpinned, it goes idle in its turn.
    const token = await signIn(server.url, ownerKey)
    assert.equal((await info(pinned.mediaId, token)).seeding.pinned, true, 'the pin outlived the restart')
    assert.equal((await pin(pinned.mediaId, token, 'DELETE')).status, 200)
    assert.equal((await info(pinned.mediaId, token)).seeding.pinned, false)
    for (const f of newer) await fetch(`${server.url}/api/media/${f.mediaId}/torrent`)
    assert.equal((await info(pinned.mediaId)).seeding.state, 'idle')
  })

  test('pins made at the same moment cannot take more than half of the slots', async () => {
    const s = await startTestServer({ SEED_MAX_ACTIVE: '4', ALLOW_ANONYMOUS_UPLOADS: 'false' })
    try {
      const owner = await signIn(s.url, await newIdentity())
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await upload(s.url, randomBytesSeeded(20_000, 620 + i), { access_level: 'public' }, `p${i}.bin`, undefined, owner)).body.mediaId)
      const statuses = await Promise.all(ids.map(async id => (await fetch(`${s.url}/api/media/${id}/pin`, { method: 'PUT', headers: bearer(owner) })).status))
      assert.equal(statuses.filter(code => code === 200).length, 2, `answers: ${statuses.join(', ')}`)
      assert.equal(statuses.filter(code => code === 409).length, 3)
    } finally { await s.destroy() }
  })

  test('a private file idles and comes back for its owner; nobody else can wake it', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    await server?.close()
    server = await startTestServer({ SEED_MAX_ACTIVE: '1', ALLOW_ANONYMOUS_UPLOADS: 'false' }, { dir })
    const owner = await signIn(server.url, await newIdentity())
    const priv = (await upload(server.url, randomBytesSeeded(20_000, 620), { access_level: 'private' }, 'p.bin', undefined, owner)).body
    await upload(server.url, randomBytesSeeded(20_000, 621), { access_level: 'public' }, 'q.bin', undefined, owner)
    assert.equal((await server.seeder.status(priv.infoHash)).state, 'idle')

    const stranger = await signIn(server.url, await newIdentity())
    for (const path of ['', '/torrent', '/info']) assert.equal((await fetch(`${server.url}/api/media/${priv.mediaId}${path}`, { headers: bearer(stranger) })).status, 404)
    const announce = await fetch(`${server.url}/announce?info_hash=${priv.infoHash.replace(/../g, '%$&')}&peer_id=${'-WW0000-'.padEnd(20, '1')}&port=6881&left=1`)
    assert.match(await announce.text(), /unknown torrent/)
    assert.equal((await server.seeder.status(priv.infoHash)).state, 'idle', 'a refused request wakes nothing')

    assert.equal((await fetch(`${server.url}/api/media/${priv.mediaId}/torrent`, { headers: bearer(owner) })).status, 200)
    assert.equal((await server.seeder.status(priv.infoHash)).state, 'active')
  })
})

describe('restarting with many files', () => {
  const dirs: string[] = []
  after(async () => { for (const d of dirs) await fs.rm(d, { recursive: true, force: true }) })

  test('only SEED_MAX_ACTIVE torrents come up, the most recently wanted first; the rest are served at once', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const first = await startTestServer({}, { dir })
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await upload(first.url, randomBytesSeeded(10_000, 630 + i))).body.mediaId)
    // The oldest upload is the one wanted last.
    await fetch(`${first.url}/api/media/${ids[0]}/torrent`)
    await first.close()

    const s = await startTestServer({ SEED_MAX_ACTIVE: '2' }, { dir })
    try {
      assert.equal((await s.seeder.getStats()).seedingCount, 4)
      assert.equal((await s.seeder.getStats()).activeTorrents, 2)
      const states = await Promise.all(ids.map(async id => (await (await fetch(`${s.url}/api/media/${id}/info`)).json()).seeding.state))
      assert.deepEqual(states, ['active', 'idle', 'idle', 'active'], 'the wanted one, then the newest')
      assert.equal((await fetch(`${s.url}/api/media/${ids[1]}`)).status, 200, 'an idle file is served over HTTP')
      assert.deepEqual((await s.seeder.getAllSeeding()).map(x => x.mediaId).sort(), [...ids].sort())
    } finally {
      await s.close()
    }
  })
})
