/**
 * Churn: anyone can want a file (its bytes, its .torrent, an announce), and each idle torrent that
 * comes up sends another idle. So demand brings at most SEED_ACTIVATIONS_PER_MINUTE torrents up;
 * the rest stay idle and are still served over HTTP. A HEAD wakes nothing.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

const metric = (text: string, name: string): number => Number(text.split('\n').find(l => l.startsWith(`${name} `))?.split(' ')[1])

describe('demand on idle torrents', () => {
  let server: TestServer
  after(async () => { await server?.destroy() })

  test('a burst over more files than SEED_MAX_ACTIVE brings up at most SEED_ACTIVATIONS_PER_MINUTE; every file is still served', async () => {
    server = await startTestServer({ SEED_MAX_ACTIVE: '2', SEED_ACTIVATIONS_PER_MINUTE: '2' })
    const files = Array.from({ length: 6 }, (_, i) => randomBytesSeeded(40_000, 800 + i))
    const uploaded: Array<{ mediaId: string, infoHash: string }> = []
    for (const bytes of files) uploaded.push((await upload(server.url, bytes)).body)
    const demand = async (): Promise<{ activated: number, deferred: number }> => {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()
      return { activated: metric(text, 'oip_demand_activations'), deferred: metric(text, 'oip_demand_deferred') }
    }
    const states = async (): Promise<string[]> => await Promise.all(uploaded.map(async u => (await server.seeder.status(u.infoHash)).state))
    assert.deepEqual(await states(), ['idle', 'idle', 'idle', 'idle', 'active', 'active'], 'uploads come up as they are made (not demand)')

    // HEAD sends no bytes and wakes nothing.
    for (const { mediaId } of uploaded) assert.equal((await fetch(`${server.url}/api/media/${mediaId}`, { method: 'HEAD' })).status, 200)
    assert.deepEqual(await states(), ['idle', 'idle', 'idle', 'idle', 'active', 'active'])
    assert.deepEqual(await demand(), { activated: 0, deferred: 0 })

    // Everything at once: bytes, .torrent and an announce for every file.
    const peerId = '-WW0000-'.padEnd(20, '7')
    await Promise.all(uploaded.flatMap(({ mediaId, infoHash }, i) => [
      (async () => {
        const res = await fetch(`${server.url}/api/media/${mediaId}`, { headers: { Range: 'bytes=100-199' } })
        assert.equal(res.status, 206)
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), files[i]!.subarray(100, 200))
      })(),
      (async () => {
        const res = await fetch(`${server.url}/api/media/${mediaId}/torrent`)
        assert.equal(res.status, 200)
        await res.arrayBuffer()
      })(),
      (async () => {
        const res = await fetch(`${server.url}/announce?info_hash=${infoHash.replace(/../g, '%$&')}&peer_id=${peerId}&port=6881&left=1`)
        assert.doesNotMatch(await res.text(), /failure/)
      })()
    ]))

    const { activated, deferred } = await demand()
    assert.ok(activated <= 2, `at most 2 torrents came up on demand, not ${activated}`)
    assert.ok(deferred >= 1, 'the rest were left idle')
    assert.ok((await server.seeder.getStats()).activeTorrents <= 2)
    // Idle or not, every file is served whole over HTTP.
    for (const [i, { mediaId }] of uploaded.entries()) {
      const res = await fetch(`${server.url}/api/media/${mediaId}`)
      assert.equal(res.status, 200)
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), files[i])
    }
  })
})
