/** The real server as a child process for benchmarks, and what they read of it (Linux /proc). */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { serverArgs } from '../scripts/buildServer.mjs'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const MiB = 1024 * 1024
export const now = (): number => performance.now()
export const fmt = (n: number, digits = 1): string => n.toFixed(digits)
/** A whole-number setting ≥ 1 from the environment (BENCH_*), or its default. */
export function envInt (name: string, fallback: number): number {
  const raw = process.env[name]
  const n = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`)
  return n
}

export const verdict = (ok: boolean): string => ok ? 'goal met' : 'goal MISSED'

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

/** VmRSS / VmHWM (peak) of a process in bytes. */
export async function procMem (pid: number): Promise<{ rss: number, hwm: number }> {
  const text = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
    if (!m) throw new Error(`/proc/${pid}/status has no ${key}`)
    return Number(m[1]) * 1024
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

export interface ThreadCpu { name: string, user: number, sys: number }

/**
 * A /proc stat file: the name in brackets, and the fields after it (state is [0], the parent's pid
 * [1], utime [11] and stime [12], in clock ticks of 10 ms). Undefined once the process is gone.
 */
export async function procStat (file: string): Promise<{ comm: string, fields: string[] } | undefined> {
  const stat = await fs.readFile(file, 'utf8').catch(() => '')
  const open = stat.indexOf('('); const close = stat.lastIndexOf(')')
  if (open < 0 || close < 0) return undefined
  return { comm: stat.slice(open + 1, close), fields: stat.slice(close + 2).split(' ') }
}

/** CPU seconds in a stat's fields (procStat). */
export const statCpu = (fields: string[]): { user: number, sys: number } => ({ user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 })

/** CPU seconds used so far by each thread of a process, named by `name`. */
export async function threadCpu (pid: number, name = (comm: string, main: boolean): string => main ? 'main thread' : `other (${comm})`): Promise<Map<string, ThreadCpu>> {
  const out = new Map<string, ThreadCpu>()
  for (const tid of await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await procStat(`/proc/${pid}/task/${tid}/stat`)
    if (stat) out.set(tid, { name: name(stat.comm, tid === String(pid)), ...statCpu(stat.fields) })
  }
  return out
}

/** CPU used between two snapshots, summed by thread name, busiest first. */
export function cpuDelta (before: Map<string, ThreadCpu>, after: Map<string, ThreadCpu>): { user: number, sys: number, byName: Array<[string, number]> } {
  let user = 0; let sys = 0
  const byName = new Map<string, number>()
  for (const [tid, a] of after) {
    const b = before.get(tid)
    const du = a.user - (b?.user ?? 0); const ds = a.sys - (b?.sys ?? 0)
    user += du; sys += ds
    byName.set(a.name, (byName.get(a.name) ?? 0) + du + ds)
  }
  return { user, sys, byName: [...byName].filter(([, t]) => t >= 0.01).sort((x, y) => y[1] - x[1]) }
}

/** GET a URL: status and body size (the body is read and dropped). Network errors reject. */
export function get (url: string, timeoutMs = 2000): Promise<{ status: number, bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, res => {
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
  })
}

export interface ServerChild {
  child: ChildProcess
  pid: number
  base: string
  /** The last 8 kB the server printed. */
  output (): string
  /** Poll `path` until it answers `status`; ms since the process was spawned. */
  waitFor (path: string, status?: number, timeoutMs?: number): Promise<number>
  /** Wait until the server prints a line matching `pattern`; ms since the process was spawned. */
  waitForOutput (pattern: RegExp, timeoutMs?: number): Promise<number>
  /** The first line printed so far that matches `pattern`. */
  lineMatching (pattern: RegExp): string | undefined
  stop (): Promise<void>
}

/**
 * The bundled server, started as `npm start` does, on a free loopback port (or `env.PORT`),
 * its data in `dataDir`. `nodeArgs` default to BENCH_SERVER_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
export async function startServerChild (dataDir: string, env: Record<string, string> = {}, nodeArgs = (process.env.BENCH_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean)): Promise<ServerChild> {
  const port = env.PORT !== undefined ? Number(env.PORT) : await freePort()
  const base = `http://127.0.0.1:${port}`
  let output = ''
  const spawnedAt = now()
  const child = spawn(process.execPath, [...nodeArgs, ...await serverArgs(ROOT)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      TORRENT_PORT: '0',
      DATA_DIR: dataDir,
      MEDIA_DIR: path.join(dataDir, 'media'),
      LOG_LEVEL: 'warn',
      ALLOW_ANONYMOUS_UPLOADS: 'true',
      ...env
    }
  })
  const lines: Array<{ at: number, text: string }> = []
  const keep = (c: Buffer): void => {
    output = (output + c.toString()).slice(-8000)
    lines.push({ at: now() - spawnedAt, text: c.toString() })
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  if (child.pid === undefined) throw new Error('could not start the server')
  return {
    child,
    pid: child.pid,
    base,
    output: () => output,
    async waitFor (urlPath, status = 200, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before ${urlPath} answered ${status}:\n${output}`)
        try {
          if ((await get(`${base}${urlPath}`)).status === status) return now() - spawnedAt
        } catch { /* not listening yet */ }
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      throw new Error(`${base}${urlPath} did not answer ${status} within ${timeoutMs / 1000} s:\n${output}`)
    },
    async waitForOutput (pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const line = lines.find(l => pattern.test(l.text))
        if (line) return line.at
        if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before printing ${pattern}:\n${output}`)
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      throw new Error(`the server did not print ${pattern} within ${timeoutMs / 1000} s:\n${output}`)
    },
    lineMatching: pattern => lines.flatMap(l => l.text.split('\n')).find(text => pattern.test(text)),
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
      const start = now()
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
      if (child.signalCode === 'SIGKILL') console.warn('  server did not stop within 10 s of SIGTERM; killed it')
      else if (now() - start > 2000) console.warn(`  server took ${fmt((now() - start) / 1000)} s to stop after SIGTERM`)
    }
  }
}

/**
 * Spawn the server over `dataDir` (added to `servers`, so the bench's frame stops it) and time,
 * from spawn, /readyz and each of `paths` answering 200 (polled every 10 ms).
 */
export async function timedStart (servers: Set<ServerChild>, dataDir: string, env: Record<string, string>, paths: string[] = []): Promise<{ server: ServerChild, ready: number, served: number[] }> {
  const server = await startServerChild(dataDir, env)
  servers.add(server)
  const [ready, ...served] = await Promise.all(['/readyz', ...paths].map(async p => await server.waitFor(p)))
  return { server, ready: ready!, served }
}

/**
 * A bench's frame: a fresh temp dir and a set for the servers it starts. At the end, on an
 * error or on Ctrl-C, the servers are stopped and the dir is removed (kept with BENCH_KEEP=1);
 * an error sets a non-zero exit code.
 */
export function runBench (name: string, body: (tmp: string, servers: Set<ServerChild>) => Promise<void>): void {
  const run = async (): Promise<void> => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `oip-bench-${name}-`))
    const servers = new Set<ServerChild>()
    const interrupt = (): void => {
      for (const s of servers) s.child.kill('SIGKILL')
      void fs.rm(tmp, { recursive: true, force: true }).finally(() => process.exit(130))
    }
    process.once('SIGINT', interrupt)
    try {
      await body(tmp, servers)
    } finally {
      for (const s of servers) await s.stop()
      if (process.env.BENCH_KEEP) console.log(`kept ${tmp}`)
      else await fs.rm(tmp, { recursive: true, force: true })
      process.off('SIGINT', interrupt)
    }
  }
  run().catch(err => {
    console.error(`${name} bench failed: ${(err as Error).stack ?? (err as Error).message}`)
    process.exitCode = 1
  })
}
