/**
 * Cluster bench: what nginx in front costs at ingest, what a second node makes of it, and how
 * long browsers wait after the node holding the tracker dies. The same uploads go straight to a
 * node over HTTP, then through nginx over HTTPS (docs/nginx/oip-media-seeder.conf, the file
 * docs/deploy.md deploys, with a self-signed certificate) to one node, then to BENCH_NODES (2)
 * cluster nodes sharing one PostgreSQL catalogue and one MEDIA_DIR, started as docs/deploy.md
 * says (one PUBLIC_URL: nginx's; NODE_URL, JWT_SECRET, TRUST_PROXY).
 *
 *   npm run bench:cluster                          # 8 uploads of 128 MiB per case, 2 at a time
 *   BENCH_SIZE_MB=32 BENCH_UPLOADS=4 npm run bench:cluster
 *   BENCH_NODES=1 npm run bench:cluster            # no cluster case (needs no PostgreSQL)
 *
 * Prints MB/s per case and the ratios nginx / direct and n nodes / one node (in the same run).
 * Then, on the cluster, SIGKILLs the node that leads (holds the tracker) and seeds a file, and
 * times a Chromium page's first complete download of it through nginx: with web seeds, and from
 * peers alone. Each case gets fresh nodes over empty data, so no upload is deduplicated against
 * an earlier one. On one machine the client, nginx and the nodes share the cores: the numbers
 * measure overhead (TLS, a second copy of every byte, the catalogue shared), not scale.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { existsSync } from 'node:fs'
import { chromium, type Page } from '@playwright/test'
import { rendezvousOwner } from '../server/cluster/rendezvous.ts'
import { downloadInPage, loadWebTorrent } from '../test/helpers/browserPeer.ts'
import { nginxUnavailable, startNginx, type Nginx } from '../test/helpers/nginx.ts'
import type { PostgresServer } from '../test/helpers/postgres.ts'
import { envInt, fmt, freePort, MiB, now, procStat, runBench, startServerChild, statCpu, type ServerChild } from './serverProcess.ts'
import { upload, writeTestFile } from './uploadClient.ts'

const SIZE = envInt('BENCH_SIZE_MB', 128) * MiB
const UPLOADS = envInt('BENCH_UPLOADS', 8)
const PARALLEL = envInt('BENCH_PARALLEL', 2)
const NODES = envInt('BENCH_NODES', 2)
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** The same on every node: sessions and the nodes' forwarding key come from it. */
const JWT_SECRET = 'one secret for every bench node, thirty-two bytes or more'

interface Case {
  name: string
  nodes: number
  proxied: boolean
}

const sha256File = async (file: string): Promise<string> => {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** CPU seconds (user + system) the processes used so far, each with its children (nginx's workers). */
async function cpuSeconds (pids: number[]): Promise<number> {
  let total = 0
  for (const pid of pids) {
    const children = (await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number)
    for (const p of [pid, ...children]) {
      const stat = await procStat(`/proc/${p}/stat`)
      if (stat) total += statCpu(stat.fields).user + statCpu(stat.fields).sys
    }
  }
  return total
}

runBench('cluster', async (tmp, servers) => {
  // Imported only when needed: the helper registers a hook with Node's test runner.
  const pg = NODES > 1 ? await import('../test/helpers/postgres.ts') : undefined
  const missing = nginxUnavailable() ?? pg?.postgresUnavailable()
  if (missing) throw new Error(missing)
  const files = Array.from({ length: UPLOADS }, (_, i) => path.join(tmp, `upload-${i}.bin`))
  console.log(`cluster bench: ${UPLOADS} uploads of ${SIZE / MiB} MiB per case, ${PARALLEL} at a time, files in ${tmp}`)
  for (const file of files) await writeTestFile(file, SIZE)
  const mediaIds = await Promise.all(files.map(sha256File))

  const cases: Case[] = [
    { name: 'direct to one node (HTTP)', nodes: 1, proxied: false },
    { name: 'nginx (HTTPS) → one node', nodes: 1, proxied: true },
    ...NODES > 1 ? [{ name: `nginx (HTTPS) → ${NODES} nodes`, nodes: NODES, proxied: true }] : []
  ]
  let postgres: PostgresServer | undefined
  const results: Array<{ case: Case, mbps: number }> = []
  let failover: string | undefined
  try {
    for (const c of cases) {
      const data = path.join(tmp, `data-${results.length}`)
      // Several nodes share one catalogue and one MEDIA_DIR, each with its own DATA_DIR.
      const shared: Record<string, string> = { MEDIA_DIR: path.join(data, 'media'), MAX_UPLOAD_BYTES: String(SIZE + MiB), TRUST_PROXY: 'loopback', JWT_SECRET }
      if (c.nodes > 1) {
        postgres ??= await pg!.startPostgres()
        shared.DATABASE_URL = await postgres!.newDatabase()
      }
      const nodes: ServerChild[] = []
      let proxy: Nginx | undefined
      try {
        // nginx first, in front of the ports the nodes will take: their PUBLIC_URL is its address.
        const ports = await Promise.all(Array.from({ length: c.nodes }, async () => await freePort()))
        if (c.proxied) proxy = await startNginx(ports.map(port => `127.0.0.1:${port}`))
        for (const [i, port] of ports.entries()) {
          const node = await startServerChild(path.join(data, `node-${i}`), {
            ...shared,
            PORT: String(port),
            ...proxy ? { PUBLIC_URL: proxy.url, NODE_URL: `http://127.0.0.1:${port}`, NODE_EXTRA_CA_CERTS: proxy.certificate.certFile } : {}
          })
          servers.add(node)
          nodes.push(node)
          await node.waitFor('/readyz')
        }
        const base = proxy?.url ?? nodes[0]!.base
        let next = 0
        const pids = { nodes: nodes.map(n => n.pid), nginx: proxy ? [proxy.pid] : [] }
        const cpuBefore = { nodes: await cpuSeconds(pids.nodes), nginx: await cpuSeconds(pids.nginx), client: process.cpuUsage() }
        const start = now()
        await Promise.all(Array.from({ length: PARALLEL }, async () => {
          for (let i = next++; i < UPLOADS; i = next++) {
            const res = await upload(base, files[i]!, SIZE, proxy?.certificate.pem)
            if (res.status !== 201) throw new Error(`${c.name}: upload ${i} answered ${res.status}: ${res.body.slice(0, 300)}`)
            const { mediaId } = JSON.parse(res.body) as { mediaId: string }
            if (mediaId !== mediaIds[i]) throw new Error(`${c.name}: upload ${i} stored as ${mediaId}, its SHA-256 is ${mediaIds[i]}`)
          }
        }))
        const mbps = UPLOADS * SIZE / MiB / ((now() - start) / 1000)
        // CPU per GiB ingested: steadier than MB/s when other work shares the machine.
        const perGiB = (seconds: number): string => fmt(seconds / (UPLOADS * SIZE / 1024 ** 3), 2)
        const client = process.cpuUsage(cpuBefore.client)
        const cpu = `CPU s per GiB: node${c.nodes > 1 ? 's' : ''} ${perGiB(await cpuSeconds(pids.nodes) - cpuBefore.nodes)}` +
          (proxy ? `, nginx ${perGiB(await cpuSeconds(pids.nginx) - cpuBefore.nginx)}` : '') +
          `, client ${perGiB((client.user + client.system) / 1e6)}`
        results.push({ case: c, mbps })
        console.log(`  ${c.name.padEnd(28)} ${fmt(mbps).padStart(6)} MB/s   ${cpu}`)
        if (c.nodes > 1) failover = await timeFailover(tmp, proxy!, nodes)
      } finally {
        await proxy?.stop()
        for (const node of nodes) {
          await node.stop()
          servers.delete(node)
        }
        await fs.rm(data, { recursive: true, force: true })
      }
    }
  } finally {
    await postgres?.stop()
  }

  const [direct, proxied, several] = results
  console.log('')
  console.log(`nginx → one node / direct        ${fmt(proxied!.mbps / direct!.mbps, 2)}`)
  if (several) console.log(`nginx → ${NODES} nodes / nginx → one  ${fmt(several.mbps / proxied!.mbps, 2)}`)
  console.log('(one machine: the client, nginx and the nodes share its cores; this is the proxy\'s overhead, not scale)')
  if (failover) console.log(`\n${failover}`)
})

/**
 * SIGKILL the node that leads and seeds a fresh public file, then time (from the kill) a Chromium
 * page's first complete download of that file through nginx, with web seeds, then from peers alone.
 */
async function timeFailover (tmp: string, proxy: Nginx, nodes: ServerChild[]): Promise<string> {
  if (!existsSync(CHROMIUM)) return `failover not timed: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`
  const states = await Promise.all(nodes.map(async n => (await (await fetch(`${n.base}/readyz`)).json()).node as { id: string, leads: boolean }))
  const leader = nodes[states.findIndex(s => s.leads)]!
  const ids = states.map(s => s.id)
  let mediaId: string | undefined
  for (let i = 0; !mediaId; i++) {
    if (i === 20) throw new Error('none of 20 files fell to the leader')
    const file = path.join(tmp, `failover-${i}.bin`)
    await writeTestFile(file, 2 * MiB)
    const res = await upload(proxy.url, file, 2 * MiB, proxy.certificate.pem)
    if (res.status !== 201) throw new Error(`failover upload answered ${res.status}: ${res.body.slice(0, 300)}`)
    const stored = JSON.parse(res.body) as { mediaId: string, infoHash: string }
    if (rendezvousOwner(stored.infoHash, ids) === states[nodes.indexOf(leader)]!.id) mediaId = stored.mediaId
  }
  for (let i = 0; (await (await fetch(`${leader.base}/api/media/${mediaId}/info`)).json()).seeding.state !== 'active'; i++) {
    if (i === 300) throw new Error('the leader did not seed the file within 30 s')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', `--ignore-certificate-errors-spki-list=${proxy.certificate.spki}`] })
  try {
    const page = async (): Promise<Page> => {
      const p = await (await browser.newContext({ bypassCSP: true })).newPage()
      await p.goto(`${proxy.url}/readyz`)
      await loadWebTorrent(p)
      return p
    }
    const pages = [await page(), await page()]
    const killed = now()
    leader.child.kill('SIGKILL')
    await downloadInPage(pages[0]!, mediaId, { webSeeds: true, timeoutMs: 120_000 })
    const webSeeds = now() - killed
    // Closed, so the next page's only peer is the surviving node's seeder.
    await pages[0]!.context().close()
    await downloadInPage(pages[1]!, mediaId, { webSeeds: false, timeoutMs: 300_000 })
    const peers = now() - killed
    return `SIGKILL of the leader (the tracker), which seeded the file: a browser's first download through nginx done after ${fmt(webSeeds / 1000, 2)} s with web seeds, ` +
      `then one from peers alone (the surviving node) after ${fmt(peers / 1000, 2)} s (CLUSTER_NODE_TIMEOUT ${process.env.CLUSTER_NODE_TIMEOUT ?? 'default 5s'})`
  } finally {
    await browser.close()
  }
}
