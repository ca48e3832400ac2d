/**
 * A real PostgreSQL for tests: a throwaway cluster from Debian's `postgresql` package (or PG_BIN)
 * in a temp folder, on 127.0.0.1 and a free port, never the packaged cluster or its port. It dies
 * with the test process however that ends (parent-death signal), and the next start removes the
 * folders of killed runs. describeEachDatabase runs a block on SQLite and again on PostgreSQL.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync, readdirSync, statfsSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe } from 'node:test'
import type { DatabaseOptions, Dialect } from '../../server/db/database.ts'

export interface PostgresServer {
  /** The `postgres` maintenance database, as the superuser `postgres` (trust auth on loopback). */
  url: string
  /** The temp folder: cluster in data/, Unix socket, postgres.log. */
  dir: string
  /** CREATE DATABASE with a fresh name; its postgres:// URL. */
  newDatabase (): Promise<string>
  /** Shut down once open connections have closed (`fast`: closing them, as a crash of the database would), then remove the temp folder. */
  stop (opts?: { fast?: boolean }): Promise<void>
}

const INSTALL = 'Install PostgreSQL with `apt-get install -y postgresql` (Debian), or set PG_BIN to a folder with initdb, postgres and createdb.'
const TOOLS = ['initdb', 'postgres', 'createdb']
const DEBIAN_VERSIONS = '/usr/lib/postgresql'
/**
 * Clusters live in memory when there is room: creating a thousand files on this machine's disk
 * took a second or more while other tests ran, and a tenth of that in /dev/shm. Docker's default
 * /dev/shm (64 MB) is too small, so then the temp folder.
 */
const BASE = inMemoryRoom('/dev/shm') ?? os.tmpdir()
/** Every folder a run makes starts with this and its pid, so a later run can tell a killed run's. */
const RUN_PREFIX = `oip-pg-${process.pid}-`
/** A UTF-8 locale, as most installs have: under C, PostgreSQL's lower() and upper() fold ASCII only and would hide how they differ from SQLite's. */
const INITDB_ARGS = ['--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions']
/** A cluster nobody keeps: no durability, and room for several pools and restarted servers. */
const SETTINGS = {
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200'
}

interface Binaries {
  bin: string
  /** setpriv options that make a process the cluster's owner: `postgres` when we are root (initdb and postgres refuse root). */
  owner: string[]
  /** uid/gid to chown our folders to when we are root. */
  ids?: { uid: number, gid: number }
}

/** Why PostgreSQL cannot be started here, with how to fix it; undefined when it can. */
export function postgresUnavailable (): string | undefined {
  const found = findBinaries()
  return typeof found === 'string' ? found : undefined
}

function findBinaries (): Binaries | string {
  const bin = process.env.PG_BIN ?? newestDebianBin()
  if (bin === undefined) return `no PostgreSQL server binaries under ${DEBIAN_VERSIONS}/<version>/bin. ${INSTALL}`
  const missing = TOOLS.filter(t => !existsSync(path.join(bin, t)))
  if (missing.length > 0) return `${missing.join(', ')} not found in ${bin}${process.env.PG_BIN ? ' (PG_BIN)' : ''}. ${INSTALL}`
  if (process.getuid?.() !== 0) return { bin, owner: [] }
  const entry = getentPasswd('postgres')
  if (entry === undefined) return 'running as root, and there is no `postgres` user to run initdb and postgres as (Debian\'s postgresql package creates it).'
  return { bin, owner: ['--reuid', String(entry.uid), '--regid', String(entry.gid), '--clear-groups'], ids: entry }
}

function inMemoryRoom (dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK)
    const { bavail, bsize } = statfsSync(dir)
    return bavail * bsize >= 2 ** 30 ? dir : undefined
  } catch {
    return undefined
  }
}

function newestDebianBin (): string | undefined {
  const versions = existsSync(DEBIAN_VERSIONS) ? readdirSync(DEBIAN_VERSIONS).filter(v => /^\d+$/.test(v)) : []
  return versions.sort((a, b) => Number(b) - Number(a))
    .map(v => path.join(DEBIAN_VERSIONS, v, 'bin'))
    .find(dir => TOOLS.every(t => existsSync(path.join(dir, t))))
}

function getentPasswd (user: string): { uid: number, gid: number } | undefined {
  try {
    const [, , uid, gid] = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')
    return { uid: Number(uid), gid: Number(gid) }
  } catch {
    return undefined
  }
}

/** Start a fresh cluster; undefined when the binaries are not there (postgresUnavailable() says why). */
export async function startPostgres (): Promise<PostgresServer | undefined> {
  const pg = findBinaries()
  if (typeof pg === 'string') return undefined
  await removeKilledRuns()
  const template = await clusterTemplate(pg)
  const dir = await ownedTempDir(pg)
  try {
    await run(pg, 'cp', ['-a', template, path.join(dir, 'data')])
    const { child, port } = await listen(pg, dir)
    let databases = 0
    let stopped: Promise<void> | undefined
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dir,
      async newDatabase () {
        const name = `test_${++databases}`
        await run(pg, path.join(pg.bin, 'createdb'), ['--host=127.0.0.1', `--port=${port}`, '--username=postgres', name])
        return `postgres://postgres@127.0.0.1:${port}/${name}`
      },
      async stop (opts = {}) {
        stopped ??= (async () => {
          await shutdown(child, opts.fast === true ? 'SIGINT' : 'SIGTERM')
          await fs.rm(dir, { recursive: true, force: true })
        })()
        await stopped
      }
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true })
    throw err
  }
}

/**
 * initdb takes seconds and copying its result a fraction of one, so one cluster from initdb is
 * kept beside the clusters per binaries and user, and every start copies it.
 */
async function clusterTemplate (pg: Binaries): Promise<string> {
  const initdb = path.join(pg.bin, 'initdb')
  const { mtimeMs, size } = statSync(initdb)
  const key = createHash('sha256').update(JSON.stringify([initdb, mtimeMs, size, process.getuid?.(), INITDB_ARGS])).digest('hex').slice(0, 16)
  const template = path.join(BASE, `oip-pg-template-${key}`)
  if (existsSync(path.join(template, 'PG_VERSION'))) return template
  const scratch = await ownedTempDir(pg)
  try {
    await run(pg, initdb, ['--pgdata', path.join(scratch, 'data'), ...INITDB_ARGS])
    // Another test process may have made it meanwhile: then theirs is kept.
    await fs.rename(path.join(scratch, 'data'), template).catch(err => {
      if (!existsSync(path.join(template, 'PG_VERSION'))) throw err
    })
  } finally {
    await fs.rm(scratch, { recursive: true, force: true })
  }
  return template
}

async function ownedTempDir (pg: Binaries): Promise<string> {
  const dir = await fs.mkdtemp(path.join(BASE, RUN_PREFIX))
  if (pg.ids) await fs.chown(dir, pg.ids.uid, pg.ids.gid)
  return dir
}

/**
 * The postmaster of a killed run got the parent-death signal and shut down, but nobody removed
 * its folder: remove the folders whose process is gone.
 */
async function removeKilledRuns (): Promise<void> {
  for (const name of await fs.readdir(BASE)) {
    const pid = /^oip-pg-(\d+)-/.exec(name)?.[1]
    if (pid !== undefined && !isRunning(Number(pid))) {
      await fs.rm(path.join(BASE, name), { recursive: true, force: true }).catch(() => {})
    }
  }
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Start the postmaster on a free port; another process can take the port first, so try again then. */
async function listen (pg: Binaries, dir: string): Promise<{ child: ChildProcess, port: number }> {
  const logPath = path.join(dir, 'postgres.log')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const settings = { ...SETTINGS, port: String(port), unix_socket_directories: dir }
    const log = await fs.open(logPath, 'a')
    const child = spawnAsOwner(pg, path.join(pg.bin, 'postgres'),
      ['-D', path.join(dir, 'data'), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      { stdio: ['ignore', log.fd, log.fd] })
    await log.close()
    // A test file that forgets stop() must still end; the postmaster then dies with it.
    child.unref()
    if (await untilReady(child, path.join(dir, 'data'))) return { child, port }
    const output = await fs.readFile(logPath, 'utf8')
    if (attempt < 5 && /could not bind|Address already in use/.test(output)) continue
    throw new Error(`PostgreSQL did not start (${pg.bin}/postgres in ${dir}):\n${output}`)
  }
}

/** True once the postmaster accepts connections (its status line in postmaster.pid, as pg_ctl reads it), false if it exited. */
async function untilReady (child: ChildProcess, data: string): Promise<boolean> {
  let exited = false
  child.once('exit', () => { exited = true })
  child.once('error', () => { exited = true })
  while (!exited) {
    const status = await fs.readFile(path.join(data, 'postmaster.pid'), 'utf8').then(text => text.split('\n')[7]?.trim(), () => undefined)
    if (status === 'ready') return true
    await sleep(10)
  }
  return false
}

/**
 * Smart shutdown (SIGTERM): it lets open sessions end. pg's pool.end() resolves before its
 * connections have closed, and a fast shutdown right after fails those clients with an uncaught
 * "terminating connection due to administrator command". A leaked connection holds it until the
 * connection closes (a pool's idle ones do after idleTimeoutMillis, 10 s by default).
 */
/** SIGTERM: PostgreSQL's smart shutdown (waits for sessions to end); SIGINT: fast (ends them). */
async function shutdown (child: ChildProcess, signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.ref() // unreferenced since it started: waiting for its exit must keep us running
  child.kill(signal)
  await exited
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** `cmd` as the cluster's owner, getting SIGINT (PostgreSQL's fast shutdown) when we die, even by SIGKILL. */
function spawnAsOwner (pg: Binaries, cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn('setpriv', [...pg.owner, '--pdeathsig', 'INT', cmd, ...args], options)
}

async function run (pg: Binaries, cmd: string, args: string[]): Promise<void> {
  const child = spawnAsOwner(pg, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', d => { output += d })
  child.stderr!.on('data', d => { output += d })
  const code = await new Promise((resolve, reject) => child.once('error', reject).once('close', resolve))
  if (code !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${code}):\n${output}`)
}

let shared: Promise<PostgresServer | undefined> | undefined

/** This test file's one server, started on first use and stopped after the file's last test. */
export async function sharedPostgres (): Promise<PostgresServer | undefined> {
  shared ??= startPostgres()
  return await shared
}

// At import, so the hook belongs to the file's root: registered from inside a test or hook, it
// would run when that one ends.
// With TEST_DATABASE=postgres every test server's catalogue is here, and a test file's own root
// hooks, registered after this one and so run after it, still close servers: the cluster then
// ends with the test process instead (its postmaster gets the parent-death signal).
if (process.env.TEST_DATABASE !== 'postgres') after(async () => { await shared?.then(pg => pg?.stop(), () => {}) })

export interface TestDatabase {
  /** For openDatabase(): SQLite's file, or PostgreSQL's URL (sqliteFile then unused). */
  options: Pick<DatabaseOptions, 'url' | 'sqliteFile'>
  /** For a test server: DATABASE_URL for PostgreSQL; nothing for SQLite, whose file is then in the server's DATA_DIR. */
  env: Record<string, string>
}

export interface DatabaseKind {
  kind: Dialect
  /**
   * A fresh, empty database (SQLite's in a temp folder removed after the block). Call it in
   * before() for one per suite, or in each test for one per test.
   */
  newDatabase (): Promise<TestDatabase>
}

/**
 * `body` twice: as "<title> (SQLite)" and "<title> (PostgreSQL)". The PostgreSQL block is skipped
 * with the reason and how to install it when the server binaries are missing; when they are
 * there and the server does not start, its tests fail.
 */
export function describeEachDatabase (title: string, body: (db: DatabaseKind) => void): void {
  describe(`${title} (SQLite)`, () => {
    let dir: Promise<string> | undefined
    let files = 0
    after(async () => { if (dir) await fs.rm(await dir, { recursive: true, force: true }) })
    body({
      kind: 'sqlite',
      async newDatabase () {
        dir ??= fs.mkdtemp(path.join(os.tmpdir(), 'oip-sqlite-'))
        return { options: { sqliteFile: path.join(await dir, `db-${++files}.sqlite`) }, env: {} }
      }
    })
  })
  const unavailable = postgresUnavailable()
  describe(`${title} (PostgreSQL)`, { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}` }, () => {
    body({
      kind: 'postgres',
      async newDatabase () {
        const pg = await sharedPostgres()
        if (!pg) throw new Error(`PostgreSQL went away while the tests ran: ${postgresUnavailable()}`)
        const url = await pg.newDatabase()
        return { options: { url, sqliteFile: ':memory:' }, env: { DATABASE_URL: url } }
      }
    })
  })
}
