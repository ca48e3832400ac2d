/**
 * Load benchmark: 50 concurrent uploads of 20 MB and 200 concurrent Range readers for 30 s on
 * loopback (autocannon), then a check that no upload the server accepted was lost.
 *
 *   npm run bench:load
 *   BENCH_DURATION=10 npm run bench:load      # quicker
 *
 * Optional: BENCH_UPLOADERS (50), BENCH_READERS (200), BENCH_UPLOAD_MB (20), BENCH_KEEP=1.
 * The server runs with MAX_CONCURRENT_UPLOADS = BENCH_UPLOADERS, so every upload is admitted.
 *
 * Goals: zero errors (socket errors, timeouts, non-2xx answers) and zero lost files: every upload
 * answered 2xx names the SHA-256 of the bytes sent, is listed, and is served back byte-equal.
 * Missing a goal is reported and exits non-zero.
 */
import { createHash, randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import autocannon, { type Result } from 'autocannon'
import { envInt, fmt, MiB, runBench, startServerChild, verdict } from './serverProcess.ts'

const DURATION_S = envInt('BENCH_DURATION', 30)
const UPLOADERS = envInt('BENCH_UPLOADERS', 50)
const READERS = envInt('BENCH_READERS', 200)
const UPLOAD_SIZE = envInt('BENCH_UPLOAD_MB', 20) * 1_000_000
/** Files the readers read from, and the size of each Range. */
const READ_FILES = 4
const RANGE_BYTES = 256 * 1024
/** A 20 MB upload under full load takes seconds; autocannon's default 10 s would count slow as failed. */
const TIMEOUT_S = 120
const BOUNDARY = '----oip-bench-load'
/** The file's last 8 bytes are a counter, so every upload is new bytes (no deduplication). */
const STAMP = 8

const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="access_level"\r\n\r\npublic\r\n` +
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="load.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)

/**
 * Upload n's bytes are one random block with n in the last 8 bytes. SHA-256 of the shared
 * prefix is computed once, so n's mediaId costs one hash of 8 bytes.
 */
class Uploads {
  private readonly template = Buffer.concat([head, randomBytes(UPLOAD_SIZE), tail])
  private readonly prefix = createHash('sha256').update(this.template.subarray(head.length, head.length + UPLOAD_SIZE - STAMP))
  private next = 0

  /** A new multipart body; its number. */
  body (): { n: number, body: Buffer } {
    const n = this.next++
    const body = Buffer.from(this.template)
    body.writeBigUInt64BE(BigInt(n), head.length + UPLOAD_SIZE - STAMP)
    return { n, body }
  }

  mediaId (n: number): string {
    const stamp = Buffer.alloc(STAMP)
    stamp.writeBigUInt64BE(BigInt(n))
    return this.prefix.copy().update(stamp).digest('hex')
  }
}

async function uploadOnce (base: string, uploads: Uploads): Promise<string> {
  const { n, body } = uploads.body()
  const res = await fetch(`${base}/api/media/upload`, { method: 'POST', body: new Uint8Array(body), headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` } })
  const json = await res.json() as { mediaId?: string }
  if (res.status !== 201 || json.mediaId !== uploads.mediaId(n)) throw new Error(`setup upload answered ${res.status} ${JSON.stringify(json)}`)
  return json.mediaId
}

/** SHA-256 of what the server serves for a file (streamed). */
async function servedHash (base: string, mediaId: string): Promise<string | undefined> {
  const res = await fetch(`${base}/api/media/${mediaId}`)
  if (res.status !== 200 || !res.body) return undefined
  const hash = createHash('sha256')
  for await (const chunk of res.body) hash.update(chunk as Uint8Array)
  return hash.digest('hex')
}

async function listed (base: string): Promise<Set<string>> {
  const ids = new Set<string>()
  let cursor: number | null = null
  do {
    const page = await (await fetch(`${base}/api/media?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`)).json() as { items: Array<{ mediaId: string }>, nextCursor: number | null }
    for (const item of page.items) ids.add(item.mediaId)
    cursor = page.nextCursor
  } while (cursor !== null)
  return ids
}

function summary (name: string, r: Result, bytesPerOk: number | undefined): string {
  const ok = r['2xx']
  const mbps = bytesPerOk === undefined ? r.throughput.average / MiB : (ok * bytesPerOk / MiB) / r.duration
  return `  ${name.padEnd(10)} ${ok} ok (${fmt(ok / r.duration)} req/s), ${fmt(mbps)} MiB/s, latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms; ` +
    `errors ${r.errors} (timeouts ${r.timeouts}), non-2xx ${r.non2xx}`
}

runBench('load', async (tmp, servers) => {
  console.log(`load bench: ${UPLOADERS} uploaders × ${UPLOAD_SIZE / 1e6} MB and ${READERS} Range readers for ${DURATION_S} s, data in ${tmp}`)
  // Every client is 127.0.0.1 and every upload anonymous (one owner): the per-address limits and
  // the quota would stop the bench, not the server.
  const server = await startServerChild(path.join(tmp, 'data'), {
    MAX_CONCURRENT_UPLOADS: String(UPLOADERS),
    QUOTA_BYTES_PER_KEY: String(2 ** 50),
    UPLOAD_STARTS_PER_MINUTE: '1000000',
    MAX_BYTE_RESPONSES: String(READERS + 16),
    MAX_BYTE_RESPONSES_PER_ADDRESS: String(READERS + 16)
  })
  servers.add(server)
  await server.waitFor('/readyz')
  const { base } = server
  const uploads = new Uploads()
  const readable = await Promise.all(Array.from({ length: READ_FILES }, async () => await uploadOnce(base, uploads)))

  const accepted = new Map<string, number>()
  let wrongId = 0
  const common = { url: base, duration: DURATION_S, timeout: TIMEOUT_S }
  const [up, read] = await Promise.all([
    autocannon({
      ...common,
      connections: UPLOADERS,
      requests: [{
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        path: '/api/media/upload',
        setupRequest: (req, context) => {
          const { n, body } = uploads.body()
          context.n = n
          return { ...req, body }
        },
        onResponse: (status, body, context) => {
          if (status < 200 || status >= 300) return
          const mediaId = (JSON.parse(body) as { mediaId?: string }).mediaId
          const n = context.n as number
          if (mediaId === uploads.mediaId(n)) accepted.set(mediaId, n)
          else wrongId++
        }
      }]
    }),
    autocannon({
      ...common,
      connections: READERS,
      requests: [{
        method: 'GET',
        setupRequest: req => {
          const start = Math.floor(Math.random() * (UPLOAD_SIZE - RANGE_BYTES))
          return { ...req, path: `/api/media/${readable[Math.floor(Math.random() * READ_FILES)]}`, headers: { range: `bytes=${start}-${start + RANGE_BYTES - 1}` } }
        }
      }]
    })
  ])

  // Every accepted upload: listed, and served back byte-equal (its SHA-256 is the id we expected).
  const list = await listed(base)
  let lost = 0
  const ids = [...accepted.keys()]
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < ids.length) {
      const id = ids[next++]!
      if (!list.has(id) || await servedHash(base, id) !== id) {
        lost++
        console.log(`  LOST: upload #${accepted.get(id)} (${id}) was accepted but is ${list.has(id) ? 'not served byte-equal' : 'not listed'}`)
      }
    }
  }))

  const errors = up.errors + up.non2xx + read.errors + read.non2xx + wrongId
  console.log('')
  console.log(`load benchmark (${DURATION_S} s on loopback, ${os.availableParallelism()} CPUs, load average ${os.loadavg().map(n => fmt(n, 2)).join(' ')})`)
  console.log(summary('uploads', up, UPLOAD_SIZE))
  console.log(summary('reads', read, undefined))
  console.log(`  errors     ${errors} (uploads answered with another file's id: ${wrongId})  goal 0  ${verdict(errors === 0)}`)
  console.log(`  lost files ${lost} of ${accepted.size} accepted uploads (each listed and served back byte-equal)  goal 0  ${verdict(lost === 0)}`)
  if (errors > 0 || lost > 0) process.exitCode = 1
})
