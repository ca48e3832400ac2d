/**
 * Several nodes on one PostgreSQL (issue #23): three real server processes share the catalogue,
 * one MEDIA_DIR and a front (a TCP proxy standing in for nginx: their PUBLIC_URL). One leads at
 * a time and alone does the work done once; torrents are seeded by the node rendezvous hashing
 * picks; announces to a follower reach the leader's swarm from the client's own address, and a
 * private torrent still admits only whom it should. Then the leader is SIGKILLed: another leads
 * within seconds and takes up its work and torrents, and the swarm finds itself again.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test, type TestContext } from 'node:test'
import bencode from 'bencode'
import parseTorrent from 'parse-torrent'
import WebSocket from 'ws'
import { rendezvousOwner } from '../../server/cluster/rendezvous.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { freePort } from '../../bench/serverProcess.ts'
import { eventually, leaderOf, readyz, seededAsRendezvousSays } from '../helpers/clusterNodes.ts'
import { startFront, type Front } from '../helpers/front.ts'
import { postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { talk } from '../helpers/rawPeer.ts'
import { randomBytesSeeded, tempDir, upload } from '../helpers/server.ts'
import { createUpload, head } from '../helpers/tus.ts'

const unavailable = postgresUnavailable()
const JWT_SECRET = 'one secret for every node, thirty-two bytes or more'
const METRICS_TOKEN = 'metrics-token-for-the-cluster-test-0123456789'
/** Short, so a dead node is found dead quickly (the default is 5 s). */
const TIMEOUT_SECONDS = 2

const binary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')
const percentBytes = (hex: string): string => hex.replace(/../g, '%$&')
const newPeerId = (): string => Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]).toString('hex')
const text = (v: unknown): string | undefined => v instanceof Uint8Array ? new TextDecoder().decode(v) : v === undefined ? undefined : String(v)

interface Node {
  name: string
  port: number
  url: string
  dir: string
  process?: ServerProcess
}

/** A peer in an HTTP announce's answer (its peer id is left out: the tracker bencodes it as UTF-8 text, which mangles it). */
interface Swarmer { ip: string, port: number }

/** An HTTP announce (from `localAddress`, with extra headers); the failure reason or the peers (compact=0). */
async function announce (url: string, infoHash: string, peerId: string, opts: { localAddress?: string, headers?: Record<string, string>, port?: number } = {}): Promise<{ failure?: string, peers: Swarmer[] }> {
  const query = `info_hash=${percentBytes(infoHash)}&peer_id=${percentBytes(peerId)}&port=${opts.port ?? 6881}&uploaded=0&downloaded=0&left=10&compact=0&numwant=50&event=started`
  const body = await new Promise<Buffer>((resolve, reject) => {
    http.get(`${url}${url.includes('?') ? '&' : '?'}${query}`, { localAddress: opts.localAddress, headers: opts.headers ?? {} }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks)))
    }).on('error', reject)
  })
  const answer = bencode.decode(new Uint8Array(body)) as Record<string, unknown>
  const peers = (answer.peers as Array<Record<string, unknown>> | undefined) ?? []
  return {
    ...(answer['failure reason'] !== undefined ? { failure: text(answer['failure reason']) } : {}),
    peers: peers.map(p => ({ ip: text(p.ip)!, port: Number(p.port) }))
  }
}

/** A WebSocket tracker connection, keeping what the tracker sends. */
class TrackerSocket {
  readonly messages: Array<Record<string, unknown>> = []
  private readonly ws: WebSocket
  readonly opened: Promise<void>
  closed = false

  constructor (baseUrl: string) {
    this.ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/announce`)
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject) })
    this.ws.on('message', data => this.messages.push(JSON.parse(String(data)) as Record<string, unknown>))
    this.ws.on('close', () => { this.closed = true })
    this.ws.on('error', () => {})
  }

  announce (infoHash: string, peerId: string, offers = 0): void {
    const offer = Array.from({ length: offers }, () => ({ offer: { type: 'offer', sdp: 'not a real offer' }, offer_id: binary(randomBytes(20).toString('hex')) }))
    this.ws.send(JSON.stringify({ action: 'announce', info_hash: binary(infoHash), peer_id: binary(peerId), left: 100, numwant: offers, uploaded: 0, downloaded: 0, ...(offers > 0 ? { offers: offer } : {}) }))
  }

  /** Got an offer relayed from this peer id. */
  offeredBy (peerId: string): boolean {
    return this.messages.some(m => m.offer !== undefined && Buffer.from(String(m.peer_id), 'latin1').toString('hex') === peerId)
  }

  close (): void {
    this.ws.terminate()
  }
}


/** This node's runs of the work done once (oip_singleton_runs_total{work}). */
async function singletonRuns (node: Node, work: string): Promise<number> {
  const metrics = await (await fetch(`${node.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  return Number(new RegExp(`^oip_singleton_runs_total\\{work="${work}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0)
}

describe('several nodes on one PostgreSQL', { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}`, timeout: 180_000 }, () => {
  let pg: PostgresServer
  let front: Front
  let root: string
  let databaseUrl: string
  const nodes: Node[] = []
  /** Public files uploaded, by mediaId: their infoHashes. */
  const files = new Map<string, string>()

  const live = (): Node[] => nodes.filter(n => n.process !== undefined)

  async function start (node: Node): Promise<void> {
    node.process = await spawnServer(node.dir, {
      DATABASE_URL: databaseUrl,
      PORT: String(node.port),
      NODE_URL: node.url,
      PUBLIC_URL: front.url,
      MEDIA_DIR: path.join(root, 'media'),
      JWT_SECRET,
      METRICS_TOKEN,
      CLUSTER_NODE_TIMEOUT: String(TIMEOUT_SECONDS),
      // Expired uploads are swept every second (a quarter of this).
      UPLOAD_EXPIRY: '4'
    })
    front.ports = live().map(n => n.port)
  }

  function kill (node: Node): void {
    node.process!.child.kill('SIGKILL')
    node.process = undefined
    front.ports = live().map(n => n.port)
  }


  before(async () => {
    pg = (await startPostgres())!
    databaseUrl = await pg.newDatabase()
    root = await tempDir('oip-cluster-')
    front = await startFront()
    for (const name of ['a', 'b', 'c']) {
      const port = await freePort()
      nodes.push({ name, port, url: `http://127.0.0.1:${port}`, dir: path.join(root, name) })
    }
    // One at a time: the first leads before the others start.
    for (const node of nodes) await start(node)
  })

  after(async () => {
    for (const node of live()) {
      node.process!.child.kill('SIGKILL')
      await node.process!.exited
    }
    await front?.close()
    await pg?.stop({ fast: true })
  })

  test('one node leads, and only it does the work done once (sweeping uploads, collecting orphans)', async () => {
    const { leader } = await leaderOf(nodes)
    assert.equal(leader, nodes[0], 'the first node started')
    for (const work of ['sweep', 'collect']) {
      await eventually(async () => assert.ok(await singletonRuns(leader, work) > 0, `the leader runs ${work}`))
      for (const node of nodes.filter(n => n !== leader)) assert.equal(await singletonRuns(node, work), 0, `${node.name} does not run ${work}`)
    }
  })

  test('every public torrent is seeded by the node rendezvous hashing picks, and by no other', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await upload(front.url, randomBytesSeeded(40_000, 700 + i))
      assert.equal(res.status, 201)
      files.set(res.body.mediaId, res.body.infoHash)
    }
    await eventually(async () => await seededAsRendezvousSays(nodes, files))
  })

  test("announces to a follower reach the leader's swarm, from the client's own address; nobody else can name one", async () => {
    const { leader } = await leaderOf(nodes)
    const [b, c] = nodes.filter(n => n !== leader) as [Node, Node]
    const [infoHash] = [...files.values()] as [string]
    // Two WebSocket peers on two followers: one's offer reaches the other.
    const x = new TrackerSocket(b.url)
    const y = new TrackerSocket(c.url)
    try {
      await Promise.all([x.opened, y.opened])
      const xId = newPeerId()
      const yId = newPeerId()
      x.announce(infoHash, xId)
      await eventually(async () => assert.ok(x.messages.some(m => m.interval !== undefined), 'x is in the swarm'))
      y.announce(infoHash, yId, 5)
      await eventually(async () => assert.ok(x.offeredBy(yId), 'x got y\'s offer through the leader'))
    } finally {
      x.close()
      y.close()
    }
    // An HTTP announce through a follower is listed at its client's address, not the follower's.
    const far = newPeerId()
    assert.equal((await announce(`${b.url}/announce`, infoHash, far, { localAddress: '127.0.0.2', port: 7001 })).failure, undefined)
    // A client naming an address in the nodes' header, without the nodes' key, is listed at its own.
    const forged = newPeerId()
    const headers = { 'x-oip-cluster-key': 'a guess', 'x-oip-client-address': '10.9.9.9' }
    assert.equal((await announce(`${leader.url}/announce`, infoHash, forged, { localAddress: '127.0.0.3', port: 7002, headers })).failure, undefined)
    const { peers } = await announce(`${c.url}/announce`, infoHash, newPeerId())
    assert.deepEqual(peers.filter(p => p.port === 7001).map(p => p.ip), ['127.0.0.2'])
    assert.deepEqual(peers.filter(p => p.port === 7002).map(p => p.ip), ['127.0.0.3'])
  })

  test('a private torrent: a forwarded announce without its capability is refused; one with it admits the peer at the node that seeds it', async () => {
    const owner = await signIn(front.url, await newIdentity())
    const { leader, ids } = await leaderOf(nodes)
    // A private torrent another node than the leader seeds: its admissions are made at the leader.
    let stored: { mediaId: string, infoHash: string, announce: string, seeder: Node } | undefined
    for (let i = 0; !stored; i++) {
      assert.ok(i < 20, 'one of 20 private files is seeded by a follower')
      const up = await upload(front.url, randomBytesSeeded(40_000, 800 + i), { access_level: 'private' }, 'p.bin', undefined, owner)
      assert.equal(up.status, 201)
      const torrent = await parseTorrent(new Uint8Array(await (await fetch(`${front.url}/api/media/${up.body.mediaId}/torrent`, { headers: bearer(owner) })).arrayBuffer()))
      const seeder = nodes.find(n => ids.get(n) === rendezvousOwner(torrent.infoHash, ids.values()))!
      if (seeder !== leader) stored = { mediaId: up.body.mediaId, infoHash: torrent.infoHash, announce: torrent.announce.find(a => a.startsWith('http'))!, seeder }
    }
    const follower = nodes.find(n => n !== leader && n !== stored!.seeder)!
    const through = (url: string): string => url.replace(front.url, follower.url)
    assert.match(String((await announce(`${follower.url}/announce`, stored.infoHash, newPeerId())).failure), /unknown torrent/, 'no capability')
    // Admitted at the leader, through a follower, from 127.0.0.2: the seeding node serves it.
    const admitted = newPeerId()
    const info = await (await fetch(`${stored.seeder.url}/api/media/${stored.mediaId}/info`, { headers: bearer(owner) })).json()
    // The seeding node's seeder, announced to the leader (once the torrent is up there, just
    // after the upload's answer): the one peer of ours at 127.0.0.1.
    let seederPeer: Swarmer | undefined
    await eventually(async () => {
      const { failure, peers } = await announce(through(stored!.announce), stored!.infoHash, admitted, { localAddress: '127.0.0.2' })
      assert.equal(failure, undefined)
      seederPeer = peers.find(p => p.ip === '127.0.0.1')
      assert.ok(seederPeer, 'the seeding node announced the torrent to the leader')
    })
    await eventually(async () => {
      const served = await talk(seederPeer!.port, stored!.infoHash, admitted, { localAddress: '127.0.0.2' })
      assert.equal(served.handshake?.peerId, info.seeding.peerId, 'the admitted peer gets the seeder\'s handshake')
    }, 5000)
    const other = await talk(seederPeer!.port, stored.infoHash, newPeerId(), { localAddress: '127.0.0.2' })
    assert.equal(other.received, 0, 'a peer id the tracker never admitted gets nothing')
    const elsewhere = await talk(seederPeer!.port, stored.infoHash, admitted, { localAddress: '127.0.0.3' })
    assert.equal(elsewhere.received, 0, 'nor does the admitted peer id from another address')
  })

  test('SIGKILL the leader: another leads within seconds, sweeps, seeds its torrents, and the swarm finds itself again', async (t: TestContext) => {
    const { leader: dead } = await leaderOf(nodes)
    const survivors = nodes.filter(n => n !== dead)
    // An upload that expires after the kill: only a leader sweeps it.
    const owner = await signIn(front.url, await newIdentity())
    const { res, url: pending } = await createUpload(survivors[0]!.url, owner, 1000)
    assert.equal(res.status, 201)
    for (const work of ['sweep', 'collect']) assert.deepEqual(await Promise.all(survivors.map(async n => await singletonRuns(n, work))), [0, 0], `no survivor ran ${work} yet`)

    const killed = performance.now()
    kill(dead)
    let leader: Node | undefined
    while (!leader) {
      const states = await Promise.all(survivors.map(readyz))
      leader = survivors.find((_, i) => states[i]!.leads)
      if (!leader) await sleep(20)
      assert.ok(performance.now() - killed < 30_000, 'a survivor leads within 30 s')
    }
    const electedMs = Math.round(performance.now() - killed)
    const follower = survivors.find(n => n !== leader)!

    // Two fresh WebSocket peers, one on each survivor, announcing until they see each other.
    const [infoHash] = [...files.values()] as [string]
    const xId = newPeerId()
    const yId = newPeerId()
    let blindMs: number | undefined
    while (blindMs === undefined) {
      const x = new TrackerSocket(follower.url)
      const y = new TrackerSocket(leader.url)
      try {
        await Promise.all([x.opened, y.opened])
        x.announce(infoHash, xId)
        await sleep(50)
        y.announce(infoHash, yId, 5)
        await sleep(100)
        if (x.offeredBy(yId)) blindMs = Math.round(performance.now() - killed)
      } catch {} finally {
        x.close()
        y.close()
      }
      assert.ok(performance.now() - killed < 30_000, 'the peers find each other within 30 s')
    }
    // The seeding nodes are back in the new leader's swarms: a peer announcing there finds them.
    let seedersBackMs: number | undefined
    while (seedersBackMs === undefined) {
      // Seeders are at 127.0.0.1 on their torrent ports; this probe is on 7003.
      const { peers } = await announce(`${follower.url}/announce`, infoHash, newPeerId(), { port: 7003 })
      if (peers.some(p => p.ip === '127.0.0.1' && p.port !== 7003)) seedersBackMs = Math.round(performance.now() - killed)
      else await sleep(50)
      assert.ok(performance.now() - killed < 60_000, 'a seeder is back in the swarm within 60 s')
    }
    t.diagnostic(`failover: new leader after ${electedMs} ms, WebSocket peers meet again after ${blindMs} ms, a seeder back in the swarm after ${seedersBackMs} ms (CLUSTER_NODE_TIMEOUT=${TIMEOUT_SECONDS}s)`)

    await eventually(async () => assert.equal((await head(pending, owner)).status, 404, 'the expired upload was swept'))
    assert.ok(await singletonRuns(leader, 'sweep') > 0, 'by the new leader')
    assert.equal(await singletonRuns(follower, 'sweep'), 0, 'and not by the follower')
    // Taking over, it collects at once (the old leader may have died mid-way); the follower never.
    assert.ok(await singletonRuns(leader, 'collect') > 0, 'the new leader collects')
    assert.equal(await singletonRuns(follower, 'collect'), 0, 'the follower does not')
    await eventually(async () => await seededAsRendezvousSays(survivors, files))
  })

  test('the killed node restarts: it takes its share back, and no torrent is seeded twice', async () => {
    const dead = nodes.find(n => n.process === undefined)!
    await start(dead)
    await eventually(async () => await seededAsRendezvousSays(nodes, files))
    // New uploads land too, wherever the front sends them.
    const res = await upload(front.url, randomBytesSeeded(40_000, 799))
    assert.equal(res.status, 201)
    files.set(res.body.mediaId, res.body.infoHash)
    await eventually(async () => await seededAsRendezvousSays(nodes, files))
  })

  test('a browser that announced while the node seeding its torrent died gets an offer from the node that takes the torrent over, without announcing again', async () => {
    const { leader, ids } = await leaderOf(nodes)
    // A torrent a follower seeds: it dies, the swarm has no seeder until another node takes over.
    const [infoHash, seeder] = [...files.values()].map(h => [h, nodes.find(n => ids.get(n) === rendezvousOwner(h, ids.values()))!] as const).find(([, n]) => n !== leader)!
    const heir = nodes.find(n => ids.get(n) === rendezvousOwner(infoHash, [...ids].filter(([n]) => n !== seeder).map(([, id]) => id)))!
    const mediaId = [...files].find(([, h]) => h === infoHash)![0]
    const heirPeerId = (await (await fetch(`${heir.url}/api/media/${mediaId}/info`)).json()).seeding.peerId
    const waiting = new TrackerSocket(leader.url)
    try {
      await waiting.opened
      kill(seeder)
      // Its offers reach no seeder; it will not announce again for minutes (a browser's interval).
      const peerId = newPeerId()
      waiting.announce(infoHash, peerId, 5)
      await eventually(async () => assert.ok(waiting.messages.some(m => m.interval !== undefined), 'in the swarm'))
      await eventually(async () => assert.ok(waiting.offeredBy(heirPeerId), `an offer from ${heir.name}'s seeder`), 30_000)
    } finally {
      waiting.close()
      await start(seeder)
    }
    await eventually(async () => await seededAsRendezvousSays(nodes, files))
  })
})
