/**
 * The deployment docs/deploy.md describes, whole (issue #23): Debian's nginx with TLS (a
 * self-signed certificate) running docs/nginx/oip-media-seeder.conf in front of two nodes that
 * share one PostgreSQL and one bucket (an S3 emulator: test/helpers/s3.ts), with S3_PUBLIC_URL.
 * Uploads go through nginx by multipart and by tus (its PATCHes on both nodes), and come back
 * byte-exact from the other node and from the bucket's public URL; in Chromium one page shares a
 * file with another over WebRTC through the tracker behind nginx; libtorrent downloads it over
 * TCP from the node that seeds it. Then the node that leads (holds the tracker) and seeds that
 * file is SIGKILLed: uploads through nginx still succeed, the file still downloads in Chromium
 * and in libtorrent, and once the dead node is back nothing is duplicated or lost.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test, type TestContext } from 'node:test'
import pg from 'pg'
import { chromium, type Browser, type Page } from '@playwright/test'
import { freePort } from '../../bench/serverProcess.ts'
import { rendezvousOwner } from '../../server/cluster/rendezvous.ts'
import { newIdentity, signIn } from '../helpers/auth.ts'
import { downloadInPage, loadWebTorrent } from '../helpers/browserPeer.ts'
import { eventually, leaderOf, seededAsRendezvousSays } from '../helpers/clusterNodes.ts'
import { BOUNDARY, multipartBody } from '../helpers/multipart.ts'
import { nginxUnavailable, startNginx, type Nginx } from '../helpers/nginx.ts'
import { postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { startS3, type TestBucket } from '../helpers/s3.ts'
import { randomBytesSeeded, tempDir } from '../helpers/server.ts'
import { metadata } from '../helpers/tus.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Debian's python3, which sees python3-libtorrent (a pyenv or venv python3 earlier on PATH would not). */
const PYTHON = '/usr/bin/python3'
const LIBTORRENT = path.resolve(import.meta.dirname, '../helpers/libtorrent_download.py')
const JWT_SECRET = 'one secret for both nodes, thirty-two bytes or more'
const METRICS_TOKEN = 'metrics-token-for-the-deployment-test-0123456789'
const BUCKET = 'oip-deploy'
/** Short, so the dead node is found dead quickly (the default is 5 s). */
const NODE_TIMEOUT_SECONDS = 2
const TUS = { 'Tus-Resumable': '1.0.0' }
const KiB = 1024

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

function unavailable (): string | undefined {
  const missing = nginxUnavailable() ?? postgresUnavailable()
  if (missing) return missing
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`
  if (spawnSync(PYTHON, ['-c', 'import libtorrent']).status !== 0) return 'python3-libtorrent is not installed: apt-get install -y python3-libtorrent'
  return undefined
}

interface Node {
  name: string
  port: number
  url: string
  torrentPort: number
  dir: string
  process?: ServerProcess
}

/** Requests this node answered (oip_http_requests_total), of `method` on routes matching `route`. */
async function answered (node: Node, method: string, route: RegExp): Promise<number> {
  const metrics = await (await fetch(`${node.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  let count = 0
  for (const m of metrics.matchAll(/^oip_http_requests_total\{method="(\w+)",route="([^"]*)",status="\d+"\} (\d+)/gm)) {
    if (m[1] === method && route.test(m[2]!)) count += Number(m[3])
  }
  return count
}

/** libtorrent's download of the torrent over TCP from these peers alone: the file's SHA-256 and the blocks each peer ("host:port") sent. */
async function libtorrentDownload (torrentFile: Uint8Array, peerPorts: number[], timeoutSeconds: number): Promise<{ sha256: string | null, blocks: Record<string, number> }> {
  const dir = await tempDir('oip-libtorrent-')
  try {
    await fs.writeFile(path.join(dir, 'file.torrent'), torrentFile)
    await fs.mkdir(path.join(dir, 'save'))
    const child = spawn(PYTHON, [LIBTORRENT, path.join(dir, 'file.torrent'), path.join(dir, 'save'), String(timeoutSeconds), ...peerPorts.map(p => `127.0.0.1:${p}`)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    await new Promise(resolve => child.once('exit', resolve))
    assert.ok(out.trim(), `libtorrent printed nothing: ${err}`)
    return JSON.parse(out)
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

const missing = unavailable()

describe('nginx (TLS) in front of two nodes on one PostgreSQL and one bucket, losing the node that leads', { skip: missing && `deployment test skipped: ${missing}`, timeout: 420_000 }, () => {
  let pgServer: PostgresServer
  let databaseUrl: string
  let s3: TestBucket
  let proxy: Nginx
  let browser: Browser
  let root: string
  let token: string
  const nodes: Node[] = []
  /** Public files stored through nginx: mediaId → infoHash. */
  const files = new Map<string, string>()
  const publicUrl = (): string => `${s3.settings.endpoint}/${BUCKET}`
  const live = (): Node[] => nodes.filter(n => n.process !== undefined)

  async function start (node: Node): Promise<void> {
    node.process = await spawnServer(node.dir, {
      ...s3.env,
      S3_PUBLIC_URL: publicUrl(),
      DATABASE_URL: databaseUrl,
      PORT: String(node.port),
      TORRENT_PORT: String(node.torrentPort),
      NODE_URL: node.url,
      PUBLIC_URL: proxy.url,
      TRUST_PROXY: 'loopback',
      JWT_SECRET,
      METRICS_TOKEN,
      CLUSTER_NODE_TIMEOUT: String(NODE_TIMEOUT_SECONDS),
      // The seeders announce to wss://<PUBLIC_URL>/announce, through nginx: they trust its certificate as they would a real one.
      NODE_EXTRA_CA_CERTS: proxy.certificate.certFile
    })
  }

  /** A multipart upload through nginx; its answer's body. */
  async function uploadThrough (bytes: Uint8Array): Promise<{ mediaId: string, infoHash: string }> {
    const body = multipartBody([{ name: 'access_level', value: 'public' }, { name: 'file', file: { bytes, filename: 'file.bin' } }])
    const res = await proxy.fetch('/api/media/upload', { method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` }, body })
    assert.equal(res.status, 201, await res.clone().text())
    const stored = await res.json()
    files.set(stored.mediaId, stored.infoHash)
    return stored
  }

  /** A tus upload through nginx in `parts` PATCHes; the file's id. */
  async function tusThrough (bytes: Uint8Array, parts: number): Promise<string> {
    const auth = { Authorization: `Bearer ${token}` }
    const created = await proxy.fetch('/api/uploads', { method: 'POST', headers: { ...TUS, ...auth, 'Upload-Length': String(bytes.length), 'Upload-Metadata': metadata({ filename: 'tus.bin', access_level: 'public' }) } })
    assert.equal(created.status, 201, await created.text())
    const at = created.headers.get('location')!
    const size = Math.ceil(bytes.length / parts)
    let last: Response | undefined
    for (let offset = 0; offset < bytes.length; offset += size) {
      const part = bytes.subarray(offset, offset + size)
      last = await proxy.fetch(at, { method: 'PATCH', headers: { ...TUS, ...auth, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'Content-Length': String(part.length) }, body: part })
      assert.equal(last.status, 204, await last.text())
    }
    const mediaId = last!.headers.get('oip-media-id')!
    assert.equal(mediaId, sha256(bytes))
    const info = await (await proxy.fetch(`/api/media/${mediaId}/info`)).json()
    files.set(mediaId, info.infoHash)
    return mediaId
  }

  const bytesAt = async (url: string): Promise<{ status: number, bytes: Buffer }> => {
    const res = await fetch(url)
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) }
  }

  /** A fresh browser context's page on the site's origin, with WebTorrent loaded. */
  async function peerPage (): Promise<Page> {
    const context = await browser.newContext({ bypassCSP: true })
    const page = await context.newPage()
    await page.goto(`${proxy.url}/readyz`)
    await loadWebTorrent(page)
    return page
  }

  before(async () => {
    pgServer = (await startPostgres())!
    databaseUrl = await pgServer.newDatabase()
    s3 = await startS3(BUCKET)
    root = await tempDir('oip-deployment-')
    for (const name of ['a', 'b']) {
      const port = await freePort()
      nodes.push({ name, port, url: `http://127.0.0.1:${port}`, torrentPort: await freePort(), dir: path.join(root, name) })
    }
    proxy = await startNginx(nodes.map(n => `127.0.0.1:${n.port}`))
    // One at a time: the first leads before the second starts.
    for (const node of nodes) await start(node)
    token = await signIn(proxy.url, await newIdentity(), proxy.fetch)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', `--ignore-certificate-errors-spki-list=${proxy.certificate.spki}`]
    })
  })

  after(async () => {
    await browser?.close()
    for (const node of live()) {
      node.process!.child.kill('SIGKILL')
      await node.process!.exited
    }
    await proxy?.stop()
    await s3?.stop()
    await pgServer?.stop({ fast: true })
    if (root) await fs.rm(root, { recursive: true, force: true })
  })

  test('a multipart upload through nginx comes back byte-exact from the other node and from S3_PUBLIC_URL', async () => {
    const bytes = randomBytesSeeded(700 * KiB, 2301)
    const uploads = async (): Promise<number[]> => await Promise.all(nodes.map(async n => await answered(n, 'POST', /^\/api\/media\/upload$/)))
    const earlier = await uploads()
    const { mediaId } = await uploadThrough(bytes)
    const took = (await uploads()).map((n, i) => n - earlier[i]!)
    assert.deepEqual([...took].sort(), [0, 1], 'one node took the upload')
    const other = nodes[took.indexOf(0)]!
    assert.deepEqual(await bytesAt(`${other.url}/api/media/${mediaId}`), { status: 200, bytes: Buffer.from(bytes) }, `from ${other.name}, which did not take it`)
    await eventually(async () => assert.deepEqual(await bytesAt(`${publicUrl()}/public/${mediaId}`), { status: 200, bytes: Buffer.from(bytes) }))
  })

  test('a tus upload through nginx, its PATCHes answered by both nodes, comes back byte-exact from either node and from S3_PUBLIC_URL', async () => {
    const bytes = randomBytesSeeded(1200 * KiB + 7, 2302)
    const patchesAnswered = async (): Promise<number[]> => await Promise.all(nodes.map(async n => await answered(n, 'PATCH', /^\/api\/uploads/)))
    const earlier = await patchesAnswered()
    const mediaId = await tusThrough(bytes, 4)
    const patches = (await patchesAnswered()).map((n, i) => n - earlier[i]!)
    assert.equal(patches.reduce((a, b) => a + b), 4)
    assert.ok(patches.every(n => n > 0), `nginx sent PATCHes to both nodes: ${JSON.stringify(patches)}`)
    for (const node of nodes) assert.deepEqual(await bytesAt(`${node.url}/api/media/${mediaId}`), { status: 200, bytes: Buffer.from(bytes) }, `from ${node.name}`)
    await eventually(async () => assert.deepEqual(await bytesAt(`${publicUrl()}/public/${mediaId}`), { status: 200, bytes: Buffer.from(bytes) }))
  })

  /** A public file the leader seeds (uploaded until rendezvous hashing gives it one), its bytes and .torrent. */
  let shared: { mediaId: string, bytes: Uint8Array, torrent: Uint8Array, leader: Node }
  /** How long a page took to download it (web seeds and peers) with both nodes up. */
  let beforeKillMs: number

  test('in Chromium, a page shares a file with a second page over WebRTC, through the tracker behind nginx', async () => {
    const { leader, ids } = await leaderOf(live())
    for (let seed = 2400; !shared; seed++) {
      assert.ok(seed < 2420, 'one of 20 files falls to the leader')
      const bytes = randomBytesSeeded(1500 * KiB, seed)
      const { mediaId, infoHash } = await uploadThrough(bytes)
      if (rendezvousOwner(infoHash, ids.values()) !== ids.get(leader)) continue
      const torrent = new Uint8Array(await (await proxy.fetch(`/api/media/${mediaId}/torrent`)).arrayBuffer())
      shared = { mediaId, bytes, torrent, leader }
    }
    await eventually(async () => assert.equal((await (await fetch(`${leader.url}/api/media/${shared.mediaId}/info`)).json()).seeding.state, 'active'))

    const [sharing, getting] = [await peerPage(), await peerPage()]
    const started = performance.now()
    const first = await downloadInPage(sharing, shared.mediaId, { webSeeds: true, timeoutMs: 60_000 })
    beforeKillMs = Math.round(performance.now() - started)
    assert.equal(first.sha256, shared.mediaId)
    // The second page keeps only its wire to the first: every byte it gets, it gets from that page.
    const second = await downloadInPage(getting, shared.mediaId, { webSeeds: false, onlyFrom: first.peerId, timeoutMs: 60_000 })
    assert.equal(second.sha256, shared.mediaId)
    assert.deepEqual(Object.keys(second.sentBy), [first.peerId])
    assert.ok(second.sentBy[first.peerId]! >= shared.bytes.length, JSON.stringify(second.sentBy))
    // Gone, so that after the kill no browser holds the file but those that download it then.
    for (const page of [sharing, getting]) await page.context().close()
  })

  test('libtorrent downloads the file over TCP from the node that seeds it', async () => {
    const { sha256: got, blocks } = await libtorrentDownload(shared.torrent, nodes.map(n => n.torrentPort), 60)
    assert.equal(got, shared.mediaId)
    assert.deepEqual(Object.keys(blocks), [`127.0.0.1:${shared.leader.torrentPort}`], 'every block came from the seeding node')
  })

  test('SIGKILL the node that leads and seeds the file: uploads through nginx succeed, the file downloads in Chromium and libtorrent', async (t: TestContext) => {
    const dead = shared.leader
    const survivor = nodes.find(n => n !== dead)!
    // Opened before the kill, so the times below are the downloads' alone.
    const [withWebSeeds, fromPeers] = [await peerPage(), await peerPage()]
    const killed = performance.now()
    dead.process!.child.kill('SIGKILL')
    await dead.process!.exited
    dead.process = undefined

    // Uploads through nginx at once, while nginx still has the dead node in its upstream.
    const uploads = (async () => {
      await uploadThrough(randomBytesSeeded(300 * KiB, 2501))
      await tusThrough(randomBytesSeeded(400 * KiB, 2502), 2)
    })()
    const browserDownload = await downloadInPage(withWebSeeds, shared.mediaId, { webSeeds: true, timeoutMs: 60_000 })
    const browserMs = Math.round(performance.now() - killed)
    await uploads
    assert.equal(browserDownload.sha256, shared.mediaId)
    await withWebSeeds.context().close()
    // From the surviving node alone, over WebRTC: once it leads (the tracker is there now),
    // takes the dead node's torrents over and announces them, a page finds it in the new swarm.
    await eventually(async () => { await leaderOf(live()) })
    const seederPeer = (await (await fetch(`${survivor.url}/api/media/${shared.mediaId}/info`)).json()).seeding.peerId
    const peersOnly = await downloadInPage(fromPeers, shared.mediaId, { webSeeds: false, onlyFrom: seederPeer, timeoutMs: 90_000 })
    const peersOnlyMs = Math.round(performance.now() - killed)
    assert.equal(peersOnly.sha256, shared.mediaId)
    assert.deepEqual(Object.keys(peersOnly.sentBy), [seederPeer])

    const { sha256: got, blocks } = await libtorrentDownload(shared.torrent, nodes.map(n => n.torrentPort), 90)
    const libtorrentMs = Math.round(performance.now() - killed)
    assert.equal(got, shared.mediaId)
    assert.deepEqual(Object.keys(blocks), [`127.0.0.1:${survivor.torrentPort}`], 'every block came from the surviving node')
    const timings = `after the SIGKILL: first browser download (web seeds and peers) done after ${browserMs} ms ` +
      `(${beforeKillMs} ms with both nodes up); ` +
      `the next, from the surviving node's seeder over WebRTC alone, after ${peersOnlyMs} ms; then libtorrent over TCP after ${libtorrentMs} ms (CLUSTER_NODE_TIMEOUT=${NODE_TIMEOUT_SECONDS}s)`
    t.diagnostic(timings)
  })

  test('the dead node restarts: nothing is duplicated or lost in the catalogue, the bucket or the seeding', async () => {
    const dead = nodes.find(n => n.process === undefined)!
    await start(dead)
    await eventually(async () => await seededAsRendezvousSays(live(), files), 60_000)
    const ids = [...files.keys()].sort()

    const db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    try {
      const rows = async (query: string): Promise<Array<{ media_id: string, n: string }>> => (await db.query(query)).rows
      for (const table of ['blobs', 'media_records']) {
        const counts = await rows(`SELECT media_id, count(*) AS n FROM ${table} GROUP BY media_id ORDER BY media_id`)
        assert.deepEqual(counts.map(r => r.media_id), ids, `${table}: a row for every file`)
        assert.deepEqual(counts.filter(r => Number(r.n) !== 1), [], `${table}: none twice`)
      }
      const seeds = await rows("SELECT media_id, count(*) AS n FROM seeds WHERE kind = 'public' GROUP BY media_id ORDER BY media_id")
      assert.deepEqual(seeds.map(r => [r.media_id, Number(r.n)]), ids.map(id => [id, 1]), 'seeds: one public seed per file')
    } finally {
      await db.end()
    }

    await eventually(async () => {
      const keys = await s3.keys()
      const expected = ids.flatMap(id => [`${id}/manifest.json`, `${id}/original`, `${id}/torrent`, `public/${id}`]).sort()
      assert.deepEqual(keys, expected, 'the bucket holds each file once, its public copy, and nothing staged')
    })
    for (const [mediaId] of files) {
      assert.equal(sha256((await bytesAt(`${dead.url}/api/media/${mediaId}`)).bytes), mediaId)
    }
  })
})
