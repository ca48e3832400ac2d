/** Real servers on loopback for integration tests: fresh folders, free ports, silent logs. */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config } from '../../server/config.ts'
import { openDatabase, type Database } from '../../server/db/database.ts'
import { silentLogger } from '../../server/logger.ts'
import { startServer, type RunningServer, type StartOptions } from '../../server/server.ts'

export interface TestServer extends RunningServer {
  dir: string
  /** Stop and delete the folders. */
  destroy (): Promise<void>
}

export async function tempDir (prefix = 'oip-test-'): Promise<string> {
  return await fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

/**
 * A test server's settings: loopback, free ports, folders under `dir`. Most tests are about
 * bytes, not identity, so public uploads need no session; the identity tests switch it off.
 * Every test client is 127.0.0.1 and many requests come quickly, so the per-address and
 * per-minute limits are out of the way here; the tests of those limits set them low.
 */
export const testEnv = (dir: string, env: Record<string, string> = {}): Record<string, string> => ({
  HOST: '127.0.0.1',
  PORT: '0',
  TORRENT_PORT: '0',
  DATA_DIR: path.join(dir, 'data'),
  MEDIA_DIR: path.join(dir, 'media'),
  WEB_DIR: path.join(dir, 'web'),
  ALLOW_ANONYMOUS_UPLOADS: 'true',
  ...UNLIMITED,
  ...env
})

/** The per-address and per-minute limits, raised past anything a test does unless it means to. */
export const UNLIMITED: Record<string, string> = {
  CHALLENGES_PER_MINUTE: '1000000',
  UPLOAD_STARTS_PER_MINUTE: '1000000',
  MAX_BYTE_RESPONSES_PER_ADDRESS: '1000000',
  SEED_ACTIVATIONS_PER_MINUTE: '1000000'
}

// Imported at load, so its hook that stops PostgreSQL belongs to the test file (imported inside a
// test, it would stop it when that test ends), and only then: scripts outside the runner use this file.
const postgres = process.env.TEST_DATABASE === 'postgres' ? await import('./postgres.ts') : undefined
const databases = new Map<string, Promise<string>>()

/**
 * With TEST_DATABASE=postgres, every test server keeps its catalogue in PostgreSQL (one database
 * per data folder, so a restart over the folder finds its own) instead of SQLite, unless the
 * test chose a DATABASE_URL itself: `TEST_DATABASE=postgres node scripts/test.mjs --unit`.
 */
export async function databaseEnv (dir: string, env: Record<string, string>): Promise<Record<string, string>> {
  if (!postgres || env.DATABASE_URL !== undefined) return {}
  let url = databases.get(dir)
  if (!url) {
    url = postgres.sharedPostgres().then(async pg => {
      if (!pg) throw new Error(`TEST_DATABASE=postgres, but PostgreSQL cannot run here: ${postgres.postgresUnavailable()}`)
      return await pg.newDatabase()
    })
    databases.set(dir, url)
  }
  return { DATABASE_URL: await url }
}

/** The catalogue of the test server(s) over `dir`, opened beside them (SQLite's file, or its PostgreSQL database). */
export async function openServerDatabase (dir: string): Promise<Database> {
  return await openDatabase({ url: (await databaseEnv(dir, {})).DATABASE_URL, sqliteFile: path.join(dir, 'data', 'db.sqlite') })
}

/** Start a server in a new temp folder (or `dir`, to restart over the same data). */
export async function startTestServer (env: Record<string, string> = {}, opts: Partial<StartOptions> & { dir?: string } = {}): Promise<TestServer> {
  const dir = opts.dir ?? await tempDir()
  await fs.mkdir(path.join(dir, 'web'), { recursive: true })
  const config: Config = loadConfig(testEnv(dir, { ...await databaseEnv(dir, env), ...env }))
  const server = await startServer(config, { log: silentLogger(), ...opts })
  return {
    ...server,
    dir,
    async destroy () {
      await server.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

/** Upload bytes as multipart/form-data with fetch (signed in when `token` is given); returns status and parsed JSON. */
export async function upload (baseUrl: string, bytes: Uint8Array, fields: Record<string, string> = { access_level: 'public' }, fileName = 'file.bin', mimeType = 'application/octet-stream', token?: string): Promise<{ status: number, body: any }> {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType }), fileName)
  const res = await fetch(`${baseUrl}/api/media/upload`, { method: 'POST', body: form, headers: token ? { Authorization: `Bearer ${token}` } : {} })
  return { status: res.status, body: await res.json() }
}

/** Deterministic pseudo-random bytes (fast, reproducible across runs). */
export function randomBytesSeeded (length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
