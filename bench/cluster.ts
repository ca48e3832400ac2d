/**
 * Cluster bench, its first part: what nginx in front costs at ingest. The same uploads go straight
 * to a node over HTTP, then through nginx over HTTPS (docs/nginx/oip-media-seeder.conf, the file
 * docs/deploy.md deploys, with a self-signed certificate) to one node, and with BENCH_NODES=2
 * (or more) to that many nodes sharing one catalogue and one MEDIA_DIR.
 *
 *   npm run bench:cluster                          # 8 uploads of 128 MiB per case, 2 at a time
 *   BENCH_SIZE_MB=32 BENCH_UPLOADS=4 npm run bench:cluster
 *   BENCH_NODES=2 npm run bench:cluster            # also nginx → 2 nodes (needs PostgreSQL: test/helpers/postgres.ts)
 *
 * Prints MB/s per case and the ratios nginx / direct and, with BENCH_NODES, n nodes / one node.
 * Each case gets fresh nodes over empty data, so no upload is deduplicated against an earlier one.
 * On one machine the client, nginx and the nodes share the cores: the numbers measure the proxy's
 * overhead (TLS, a second copy of every byte), not scale. Several nodes sharing one catalogue
 * come with the several-nodes work (README); BENCH_NODES=2 runs what that work makes of it.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { nginxUnavailable, startNginx, type Nginx } from '../test/helpers/nginx.ts'
import type { PostgresServer } from '../test/helpers/postgres.ts'
import { envInt, fmt, MiB, now, procStat, runBench, startServerChild, statCpu, type ServerChild } from './serverProcess.ts'
import { upload, writeTestFile } from './uploadClient.ts'

const SIZE = envInt('BENCH_SIZE_MB', 128) * MiB
const UPLOADS = envInt('BENCH_UPLOADS', 8)
const PARALLEL = envInt('BENCH_PARALLEL', 2)
const NODES = envInt('BENCH_NODES', 1)

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
  try {
    for (const c of cases) {
      const data = path.join(tmp, `data-${results.length}`)
      // Several nodes share one catalogue and one MEDIA_DIR, each with its own DATA_DIR.
      const shared: Record<string, string> = { MEDIA_DIR: path.join(data, 'media'), MAX_UPLOAD_BYTES: String(SIZE + MiB), TRUST_PROXY: 'loopback' }
      if (c.nodes > 1) {
        postgres ??= await pg!.startPostgres()
        shared.DATABASE_URL = await postgres!.newDatabase()
      }
      const nodes: ServerChild[] = []
      let proxy: Nginx | undefined
      try {
        for (let i = 0; i < c.nodes; i++) {
          const node = await startServerChild(path.join(data, `node-${i}`), shared)
          servers.add(node)
          nodes.push(node)
          await node.waitFor('/readyz')
        }
        if (c.proxied) proxy = await startNginx(nodes.map(n => new URL(n.base).host))
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
})
