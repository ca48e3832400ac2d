/**
 * Ingest benchmark: how close does a real upload over loopback come to the machine's hashing
 * speed, and how much memory does the server take while doing it?
 *
 *   npm run bench:ingest                       # 1 GiB
 *   BENCH_SIZE_MB=256 npm run bench:ingest     # quicker
 *
 * Optional:
 *   BENCH_SERVER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   extra node flags for the server child
 *                      (a profile is written only if the server exits by itself on SIGTERM)
 *   BENCH_KEEP=1       keep the temp dir (prints its path)
 *   BLOB_STORE=s3      the server stores into a bucket: an S3 emulator (@20minutes/s3rver) started
 *                      in this process on loopback. Its numbers measure the S3 path's overhead on
 *                      this machine (the emulator shares the cores and writes to the same disk), not S3
 *
 * Goals: ingest MB/s ≥ 0.6 × one-pass SHA-256 + SHA-1 pieces MB/s over the same (cached) file,
 * and the server's peak RSS growth during the upload < 100 MB. Then the resumable case: a tus
 * upload of another file of the same size in 8 MiB PATCHes, goal ≥ 0.5 × the same reference. Missing a goal is reported, not
 * fatal; a wrong mediaId, a non-201 answer or a server that does not start exit non-zero.
 */
import { createReadStream, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pieceLength } from '../shared/torrent.ts'
import { ContentHasher } from '../server/upload/contentHasher.ts'
import { signSignIn } from '../shared/signing.ts'
import { createMnemonic, identityFromMnemonic } from '../shared/wallet.ts'
import { cpuDelta, fmt, MiB, now, procMem, startServerChild, threadCpu, type ServerChild } from './serverProcess.ts'
import { startS3, type TestBucket } from '../test/helpers/s3.ts'
import { upload, writeTestFile } from './uploadClient.ts'

const RATIO_GOAL = 0.6
const RSS_GOAL_MB = 100
const TUS_RATIO_GOAL = 0.5
const TUS_CHUNK = 8 * 1024 * 1024
const SAMPLE_MS = 50

const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1024)
if (!Number.isSafeInteger(sizeMb) || sizeMb < 1) throw new Error(`BENCH_SIZE_MB must be a whole number ≥ 1, got "${process.env.BENCH_SIZE_MB}"`)
const SIZE = sizeMb * MiB

const mbps = (bytes: number, ms: number): number => (bytes / MiB) / (ms / 1000)

/** The in-process reference: one pass, SHA-256 + SHA-1 pieces, exactly as the server hashes. */
async function referenceHash (file: string, size: number): Promise<{ mediaId: string, ms: number }> {
  const start = now()
  const hasher = new ContentHasher([pieceLength(size)])
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hasher.update(chunk as Buffer)
  const { mediaId, pieces } = hasher.finish()
  if (!pieces) throw new Error('reference: piece hashes missing')
  return { mediaId, ms: now() - start }
}

/** Reset the process's peak RSS (VmHWM) so it measures the upload only; false if not allowed. */
async function resetPeak (pid: number): Promise<boolean> {
  try {
    await fs.writeFile(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

interface Measured<T> {
  result: T
  before: { rss: number }
  peakRss: number
  peakHwm: number | undefined
  cpu: ReturnType<typeof cpuDelta>
  selfCpu: NodeJS.CpuUsage
}

/** Run one upload while sampling the server's RSS and counting its CPU by thread. */
async function measured<T> (pid: number, run: () => Promise<T>): Promise<Measured<T>> {
  const before = await procMem(pid)
  const peakReset = await resetPeak(pid)
  let peakRss = before.rss
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      try { peakRss = Math.max(peakRss, (await procMem(pid)).rss) } catch { return }
      await new Promise(resolve => setTimeout(resolve, SAMPLE_MS))
    }
  })()
  const cpuBefore = await threadCpu(pid)
  const selfBefore = process.cpuUsage()
  let result: T
  try {
    result = await run()
  } finally {
    sampling = false
    await sampler
  }
  const cpu = cpuDelta(cpuBefore, await threadCpu(pid))
  const selfCpu = process.cpuUsage(selfBefore)
  const after = await procMem(pid)
  return { result, before, peakRss: Math.max(peakRss, after.rss), peakHwm: peakReset ? after.hwm : undefined, cpu, selfCpu }
}

/** Sign in with a fresh key, as the browser does (resumable uploads need an owner). */
async function signIn (base: string): Promise<string> {
  const identity = await identityFromMnemonic(createMnemonic())
  const challenge = await (await fetch(`${base}/api/auth/challenge`, { method: 'POST' })).json() as { message: string }
  const { nonce, signature } = signSignIn(challenge.message, new URL(base).origin, identity.privateKey)
  const res = await fetch(`${base}/api/auth/verify`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ publicKey: identity.publicKey, nonce, signature })
  })
  if (!res.ok) throw new Error(`sign-in failed: ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

/**
 * A tus upload: create, then PATCH the file in TUS_CHUNK pieces over one kept-alive connection.
 * Like a good client, it reads the next piece from disk while the current one is in flight.
 */
async function tusUpload (base: string, token: string, file: string, size: number): Promise<{ mediaId: string, ms: number }> {
  const headers = { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}` }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const request = (url: string, method: string, extra: Record<string, string>, body?: Buffer): Promise<{ status: number, headers: http.IncomingHttpHeaders, text: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent, headers: { ...headers, ...extra } }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  const handle = await fs.open(file, 'r')
  const buffers = [Buffer.alloc(TUS_CHUNK), Buffer.alloc(TUS_CHUNK)]
  const read = async (offset: number, i: number): Promise<Buffer> => {
    const { bytesRead } = await handle.read(buffers[i % 2]!, 0, Math.min(TUS_CHUNK, size - offset), offset)
    return buffers[i % 2]!.subarray(0, bytesRead)
  }
  const start = now()
  try {
    const meta = `filename ${Buffer.from('bench2.bin').toString('base64')},access_level ${Buffer.from('public').toString('base64')}`
    const created = await request(`${base}/api/uploads`, 'POST', { 'Upload-Length': String(size), 'Upload-Metadata': meta })
    if (created.status !== 201) throw new Error(`tus create answered ${created.status}: ${created.text}`)
    const url = new URL(String(created.headers.location), base).href
    let last = created
    let next = read(0, 0)
    for (let offset = 0, i = 0; offset < size; offset += TUS_CHUNK, i++) {
      const body = await next
      if (offset + TUS_CHUNK < size) next = read(offset + TUS_CHUNK, i + 1)
      last = await request(url, 'PATCH', { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'Content-Length': String(body.length) }, body)
      if (last.status !== 204) throw new Error(`tus PATCH at ${offset} answered ${last.status}: ${last.text}`)
    }
    // The PATCH that completed the file names it (tus 1.0 lets it answer only 204, no body).
    const mediaId = last.headers['oip-media-id']
    if (typeof mediaId !== 'string') throw new Error('the last tus PATCH named no OIP-Media-Id')
    return { mediaId, ms: now() - start }
  } finally {
    agent.destroy()
    await handle.close()
  }
}

async function main (): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-bench-ingest-'))
  let server: ServerChild | undefined
  let s3: TestBucket | undefined
  // Ctrl-C: leave no server and no gigabyte behind.
  const interrupt = (): void => {
    server?.child.kill('SIGKILL')
    rmSync(tmp, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const file = path.join(tmp, 'bench.bin')
    // The resumable case sends other bytes, so nothing is deduplicated.
    const file2 = path.join(tmp, 'bench2.bin')
    console.log(`ingest bench: two ${sizeMb} MiB test files in ${tmp}`)
    const t = now()
    await writeTestFile(file, SIZE)
    await writeTestFile(file2, SIZE)
    console.log(`  generated in ${fmt((now() - t) / 1000, 2)} s`)

    // Reference: the first pass warms the page cache; the best of the next three is the machine's limit.
    await referenceHash(file, SIZE)
    let ref = await referenceHash(file, SIZE)
    for (let i = 0; i < 2; i++) {
      const again = await referenceHash(file, SIZE)
      if (again.mediaId !== ref.mediaId) throw new Error('reference: two passes over the same file disagree')
      if (again.ms < ref.ms) ref = again
    }
    const refMbps = mbps(SIZE, ref.ms)
    console.log(`  reference hash (SHA-256 + SHA-1 pieces, in-process, best of 3): ${fmt(refMbps)} MB/s`)
    if (process.env.BLOB_STORE === 's3') {
      s3 = await startS3('oip-bench')
      console.log(`  blob store: s3, an S3 emulator in this process at ${s3.settings.endpoint} (it shares the CPUs: overhead, not S3)`)
    }

    // The real server, as `npm start` runs it (without the build): a fresh one for each case, its
    // data deleted after, so the second case does not pay for the first one's gigabyte in the page cache.
    const freshServer = async (name: string): Promise<ServerChild> => {
      server = await startServerChild(path.join(tmp, name), { MAX_UPLOAD_BYTES: String(SIZE + 64 * MiB), ...s3?.env })
      await server.waitFor('/healthz')
      // Let startup garbage settle before the baseline.
      await new Promise(resolve => setTimeout(resolve, 500))
      return server
    }
    let { base, pid } = await freshServer('data-plain')
    const plain = await measured(pid, async () => await upload(base, file, SIZE))
    const res = plain.result
    if (res.status !== 201) throw new Error(`upload answered ${res.status}, expected 201: ${res.body.slice(0, 500)}`)
    const mediaId = (JSON.parse(res.body) as { mediaId?: string }).mediaId
    if (mediaId !== ref.mediaId) throw new Error(`mediaId ${String(mediaId)} differs from the reference SHA-256 ${ref.mediaId}`)

    const { before, peakRss, peakHwm, cpu, selfCpu } = plain
    const ingestMbps = mbps(SIZE, res.ms)
    const ratio = ingestMbps / refMbps
    const growthMb = (Math.max(peakRss, peakHwm ?? 0) - before.rss) / MiB
    const pass = (ok: boolean): string => ok ? 'PASS' : 'MISS'

    console.log('')
    console.log('ingest benchmark')
    console.log(`  file size            ${sizeMb} MiB (${SIZE} bytes)`)
    console.log(`  reference hash       ${fmt(refMbps)} MB/s  (${fmt(ref.ms / 1000, 2)} s, best of 3 over the cached file)`)
    console.log(`  ingest (upload)      ${fmt(ingestMbps)} MB/s  (${fmt(res.ms / 1000, 2)} s; body sent in ${fmt(res.sendMs / 1000, 2)} s, answer ${fmt((res.ms - res.sendMs) / 1000, 2)} s after the last byte)`)
    console.log(`  ratio ingest/ref     ${fmt(ratio, 2)}  goal ≥ ${RATIO_GOAL}  ${pass(ratio >= RATIO_GOAL)}`)
    console.log(`  server RSS           ${fmt(before.rss / MiB)} MB before, peak ${fmt(peakRss / MiB)} MB sampled every ${SAMPLE_MS} ms` +
      (peakHwm !== undefined ? `, VmHWM ${fmt(peakHwm / MiB)} MB` : ' (VmHWM could not be reset; sampled peak only)'))
    console.log(`  peak RSS growth      ${fmt(growthMb)} MB  goal < ${RSS_GOAL_MB} MB  ${pass(growthMb < RSS_GOAL_MB)}`)
    console.log(`  mediaId              ${mediaId} (matches the reference)`)
    console.log(`  server CPU           ${fmt(cpu.user, 2)} s user + ${fmt(cpu.sys, 2)} s sys in ${fmt(res.ms / 1000, 2)} s wall; by thread: ` +
      cpu.byName.slice(0, 5).map(([name, t]) => `${name} ${fmt(t, 2)} s`).join(', '))
    console.log(`  bench client CPU     ${fmt(selfCpu.user / 1e6, 2)} s user + ${fmt(selfCpu.system / 1e6, 2)} s sys (sends the body, samples RSS); ${os.availableParallelism()} CPUs`)

    // The resumable case: tus PATCHes of 8 MiB, one after another (the protocol has no overlap).
    const ref2 = await referenceHash(file2, SIZE)
    await server!.stop()
    await fs.rm(path.join(tmp, 'data-plain'), { recursive: true, force: true });
    ({ base, pid } = await freshServer('data-tus'))
    const token = await signIn(base)
    const tus = await measured(pid, async () => await tusUpload(base, token, file2, SIZE))
    if (tus.result.mediaId !== ref2.mediaId) throw new Error(`resumable mediaId ${tus.result.mediaId} differs from the reference SHA-256 ${ref2.mediaId}`)
    const tusMbps = mbps(SIZE, tus.result.ms)
    const tusRatio = tusMbps / refMbps
    const tusGrowth = (Math.max(tus.peakRss, tus.peakHwm ?? 0) - tus.before.rss) / MiB
    console.log('')
    console.log(`resumable (tus, ${TUS_CHUNK / MiB} MiB PATCHes)`)
    console.log(`  ingest (upload)      ${fmt(tusMbps)} MB/s  (${fmt(tus.result.ms / 1000, 2)} s in ${Math.ceil(SIZE / TUS_CHUNK)} requests)`)
    console.log(`  ratio ingest/ref     ${fmt(tusRatio, 2)}  goal ≥ ${TUS_RATIO_GOAL}  ${pass(tusRatio >= TUS_RATIO_GOAL)}`)
    console.log(`  peak RSS growth      ${fmt(tusGrowth)} MB  goal < ${RSS_GOAL_MB} MB  ${pass(tusGrowth < RSS_GOAL_MB)}`)
    console.log(`  server CPU           ${fmt(tus.cpu.user, 2)} s user + ${fmt(tus.cpu.sys, 2)} s sys; by thread: ` +
      tus.cpu.byName.slice(0, 5).map(([name, t]) => `${name} ${fmt(t, 2)} s`).join(', '))
  } finally {
    await server?.stop()
    await s3?.stop()
    if (process.env.BENCH_KEEP) console.log(`kept ${tmp}`)
    else await fs.rm(tmp, { recursive: true, force: true })
    process.off('SIGINT', interrupt)
    process.off('SIGTERM', interrupt)
  }
}

main().catch(err => {
  console.error(`ingest bench failed: ${(err as Error).message}`)
  process.exitCode = 1
})
