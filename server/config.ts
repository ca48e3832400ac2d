/** Every setting, read from the environment once and validated here; passed down from main.ts. */
import path from 'node:path'
import { parseTrustProxy, type ProxyRange } from './access/clientAddress.ts'

export interface Config {
  host: string
  port: number
  /** The URL people and peers reach this server at; torrents and magnets name it. */
  publicUrl: string
  /**
   * Where the other nodes sharing DATABASE_URL reach this one (NODE_URL; undefined: PUBLIC_URL):
   * a follower forwards the tracker's announces to the leader's.
   */
  nodeUrl: string | undefined
  /** A node whose heartbeat is older than this is dead: its work and torrents move (CLUSTER_NODE_TIMEOUT). */
  clusterNodeTimeoutMs: number
  mediaDir: string
  /** Where the blobs are kept (BLOB_STORE): MEDIA_DIR (the default), or an S3-compatible bucket. */
  blobStore: { kind: 'fs' } | S3Settings
  dataDir: string
  /** PostgreSQL (DATABASE_URL); undefined: the embedded SQLite database in DATA_DIR/db.sqlite. */
  databaseUrl: string | undefined
  /** Connections to PostgreSQL per server process (DATABASE_POOL_SIZE). */
  databasePoolSize: number
  webDir: string
  maxUploadBytes: number
  /** Extra trackers announced beside the embedded one (WEBTORRENT_TRACKERS, comma list). */
  extraTrackers: string[]
  /**
   * Mirrors of this server's public files, e.g. a CDN that pulls from it (CDN_URLS, comma list of
   * base URLs): public torrents and magnets name `<base>/api/media/<mediaId>` as web seeds too.
   */
  cdnUrls: string[]
  /** TCP port for BitTorrent peers; 0 picks a free one. */
  torrentPort: number
  /** SEEDING=false: store, serve over HTTP (web seed) and track, but seed nothing over BitTorrent. */
  seeding: boolean
  /** Seeding bandwidth in bytes/s (BitTorrent peers; not HTTP); undefined = unlimited. */
  seedUploadLimit: number | undefined
  seedDownloadLimit: number | undefined
  /** At most this many torrents are active in the BitTorrent client; the rest wait idle until wanted. */
  seedMaxActive: number
  /** Public keys allowed to change settings at run time (ADMIN_PUBLIC_KEYS, comma list). */
  adminKeys: string[]
  logLevel: string
  /** JWT_SECRET; unset → generated once into DATA_DIR/jwt-secret. */
  jwtSecret: string | undefined
  /** METRICS_TOKEN, the bearer token /metrics asks for; unset → generated once into DATA_DIR/metrics-token. */
  metricsToken: string | undefined
  tokenTtlSeconds: number
  allowAnonymousUploads: boolean
  maxConcurrentUploads: number
  /** Uploads get 507 while the media disk has less free space than this (serving goes on). */
  diskLowWaterBytes: number
  /** On SIGTERM, how long uploads in flight may take to finish before they are cut. */
  shutdownGraceMs: number
  /** A resumable upload untouched this long is deleted (UPLOAD_EXPIRY, e.g. 24h, 90m, 3600s). */
  uploadExpiryMs: number
  /** A stored blob that no record holds is deleted this long after it was published (ORPHAN_BLOB_GRACE). */
  orphanGraceMs: number
  /** Compare every folder in MEDIA_DIR with the database at start (RECONCILE_ALL), not just those the journal notes. */
  reconcileAll: boolean
  /** A request whose body sends nothing this long is cut (REQUEST_IDLE_TIMEOUT); none has a total limit. */
  requestIdleTimeoutMs: number
  /** Byte responses (media bytes, web seeds) sent at once, in all and per client address; each holds 512 KiB. */
  maxByteResponses: number
  maxByteResponsesPerAddress: number
  /** A byte response whose client takes nothing for this long is cut and its buffers freed. */
  sendTimeoutMs: number
  /** Idle torrents that demand (bytes, .torrent, announces) may bring into the client per minute. */
  seedActivationsPerMinute: number
  /** Files one key may pin (admins: no limit of their own). */
  pinsPerKey: number
  /** What one key may store: bytes of the distinct files it has records for, and how many. */
  quotaBytesPerKey: number
  quotaFilesPerKey: number
  /** Per client address and minute: sign-in challenges, upload starts (plain uploads and tus creations), and reads of GUN nodes (each waits on the relays). */
  challengesPerMinute: number
  uploadStartsPerMinute: number
  verifyReadsPerMinute: number
  /** The reverse proxies whose X-Forwarded-For tells the client's address (TRUST_PROXY); none by default. */
  trustProxy: ProxyRange[]
  /** How often the dashboard's history takes a sample (HISTORY_SAMPLE_SECONDS); it keeps 360 of them. */
  historySampleMs: number
  /** The Arweave gateway public records are published to (ARWEAVE_URL); undefined: publishing is off. */
  arweaveUrl: string | undefined
  /** The JWK wallet that pays for the bundles (ARWEAVE_WALLET_FILE); undefined: DATA_DIR/arweave-wallet.json, generated on first start. */
  arweaveWalletFile: string | undefined
  /** The most winston the server's wallet pays for one bundle, whatever the gateway quotes (ARWEAVE_MAX_REWARD). */
  arweaveMaxReward: number
  /** How often the publisher posts due items and asks the gateway about posted bundles, and the indexer reads new records (ARWEAVE_POLL_SECONDS). */
  arweavePollMs: number
  /** Index the OIP records others publish on ARWEAVE_URL (ARWEAVE_INDEX; on by default when ARWEAVE_URL is set). */
  arweaveIndex: boolean
  /** The GUN relays private records' sealed nodes go to (GUN_PEERS); none: GUN publishing is off. */
  gunPeers: string[]
  /** How often the GUN publisher puts due nodes and tombstones of deleted records (GUN_POLL_SECONDS). */
  gunPollMs: number
}

/** BLOB_STORE=s3: the bucket; credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID, …). */
export interface S3Settings {
  kind: 's3'
  /** S3_ENDPOINT; undefined: AWS S3 itself. */
  endpoint: string | undefined
  bucket: string
  region: string
  /** S3_PREFIX: every key starts with it ('' or ending in '/'), so a bucket can be shared. */
  prefix: string
  /** S3_FORCE_PATH_STYLE: bucket in the path (most S3-compatible servers), not in the host name. */
  forcePathStyle: boolean
  /** S3_PUBLIC_URL: a bucket or CDN base that serves the bucket's keys to anyone: public files' copies are web seeds there (storage/s3PublicObjects.ts). */
  publicUrl: string | undefined
}

type Env = Record<string, string | undefined>

/** ARWEAVE_MAX_REWARD's default, in winston: 1 AR for one bundle (at most 50 items of ~130 KiB). */
export const DEFAULT_ARWEAVE_MAX_REWARD = 1_000_000_000_000

function integer (env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`)
  }
  return value
}

function optionalInteger (env: Env, name: string, min: number): number | undefined {
  return env[name] === undefined || env[name] === '' ? undefined : integer(env, name, 0, min)
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration like "24h", "90m", "2d" or plain seconds. */
function duration (env: Env, name: string, fallbackMs: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallbackMs
  const m = /^(\d+)\s*([smhd]?)$/.exec(raw.trim())
  if (!m || Number(m[1]) === 0) throw new Error(`${name} must be a duration like 24h, 90m, 2d or a number of seconds, got "${raw}"`)
  return Number(m[1]) * UNIT_MS[m[2] || 's']!
}

function flag (env: Env, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase()
  if (['', '0', 'false', 'no', 'off'].includes(raw)) return false
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  throw new Error(`${name} must be true or false, got "${env[name]}"`)
}

function url (name: string, raw: string, protocols: string[]): string {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new Error(`${name} must be a URL, got "${raw}"`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new Error(`${name} must use ${protocols.join(' or ')}, got "${raw}"`)
  }
  return raw.replace(/\/+$/, '')
}

/** A comma-separated list of URLs (none when unset). */
const urlList = (env: Env, name: string, protocols: string[]): string[] =>
  (env[name] ?? '').split(',').map(s => s.trim()).filter(Boolean).map(u => url(name, u, protocols))

/** The URL is never echoed: it may hold a password. */
function databaseUrl (raw: string | undefined): string | undefined {
  if (!raw) return undefined
  let protocol: string
  try {
    protocol = new URL(raw).protocol
  } catch {
    throw new Error('DATABASE_URL is not a URL: use postgres://user:password@host:5432/database, or leave it unset for the embedded SQLite database')
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must be a postgres:// URL (got a ${protocol} URL); leave it unset for the embedded SQLite database`)
  }
  return raw
}

function blobStore (env: Env): Config['blobStore'] {
  const kind = env.BLOB_STORE || 'fs'
  if (kind === 'fs') return { kind }
  if (kind !== 's3') throw new Error(`BLOB_STORE must be fs (files in MEDIA_DIR) or s3 (an S3-compatible bucket), got "${kind}"`)
  const bucket = env.S3_BUCKET ?? ''
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/.test(bucket)) {
    throw new Error(bucket ? `S3_BUCKET must be a bucket name (letters, digits, dots, dashes), got "${bucket}"` : 'BLOB_STORE=s3 needs S3_BUCKET, the name of an existing bucket')
  }
  const prefix = (env.S3_PREFIX ?? '').replace(/^\/+|\/+$/g, '')
  if (prefix && prefix.split('/').some(part => part === '' || part === '.' || part === '..')) {
    throw new Error(`S3_PREFIX must be a key prefix like media or oip/media (no empty, . or .. parts), got "${env.S3_PREFIX}"`)
  }
  return {
    kind,
    endpoint: env.S3_ENDPOINT ? url('S3_ENDPOINT', env.S3_ENDPOINT, ['http:', 'https:']) : undefined,
    bucket,
    region: env.S3_REGION || 'us-east-1',
    prefix: prefix && `${prefix}/`,
    forcePathStyle: flag(env, 'S3_FORCE_PATH_STYLE'),
    publicUrl: env.S3_PUBLIC_URL ? url('S3_PUBLIC_URL', env.S3_PUBLIC_URL, ['http:', 'https:']) : undefined
  }
}

export function loadConfig (env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0)
  const host = env.HOST || '127.0.0.1'
  const dataDir = path.resolve(env.DATA_DIR || './data')
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host
  return {
    host,
    port,
    publicUrl: url('PUBLIC_URL', env.PUBLIC_URL || `http://${shownHost}:${port}`, ['http:', 'https:']),
    nodeUrl: env.NODE_URL ? url('NODE_URL', env.NODE_URL, ['http:', 'https:']) : undefined,
    clusterNodeTimeoutMs: duration(env, 'CLUSTER_NODE_TIMEOUT', UNIT_MS.s! * 5),
    mediaDir: path.resolve(env.MEDIA_DIR || path.join(dataDir, 'media')),
    blobStore: blobStore(env),
    dataDir,
    databaseUrl: databaseUrl(env.DATABASE_URL),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1),
    webDir: path.resolve(env.WEB_DIR || './dist/web'),
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 10 * 1024 ** 3, 1),
    extraTrackers: urlList(env, 'WEBTORRENT_TRACKERS', ['ws:', 'wss:', 'http:', 'https:', 'udp:']),
    cdnUrls: urlList(env, 'CDN_URLS', ['http:', 'https:']),
    torrentPort: integer(env, 'TORRENT_PORT', 6881, 0),
    seeding: env.SEEDING === undefined || env.SEEDING === '' ? true : flag(env, 'SEEDING'),
    seedUploadLimit: optionalInteger(env, 'SEED_UPLOAD_LIMIT', 1),
    seedDownloadLimit: optionalInteger(env, 'SEED_DOWNLOAD_LIMIT', 1),
    seedMaxActive: integer(env, 'SEED_MAX_ACTIVE', 500, 1),
    adminKeys: (env.ADMIN_PUBLIC_KEYS ?? '').split(',').map(k => k.trim()).filter(Boolean).map(k => {
      if (!/^(02|03)[0-9a-f]{64}$/.test(k)) throw new Error(`ADMIN_PUBLIC_KEYS must list compressed public keys (66 hex characters), got "${k}"`)
      return k
    }),
    logLevel: env.LOG_LEVEL || 'info',
    jwtSecret: env.JWT_SECRET || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    tokenTtlSeconds: integer(env, 'TOKEN_TTL_SECONDS', 3600, 60),
    allowAnonymousUploads: flag(env, 'ALLOW_ANONYMOUS_UPLOADS'),
    maxConcurrentUploads: integer(env, 'MAX_CONCURRENT_UPLOADS', 16, 1),
    diskLowWaterBytes: integer(env, 'DISK_LOW_WATER_BYTES', 1024 ** 3, 0),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_SECONDS', 15, 0) * 1000,
    uploadExpiryMs: duration(env, 'UPLOAD_EXPIRY', UNIT_MS.h! * 24),
    orphanGraceMs: duration(env, 'ORPHAN_BLOB_GRACE', UNIT_MS.h!),
    reconcileAll: flag(env, 'RECONCILE_ALL'),
    requestIdleTimeoutMs: duration(env, 'REQUEST_IDLE_TIMEOUT', UNIT_MS.s! * 60),
    maxByteResponses: integer(env, 'MAX_BYTE_RESPONSES', 256, 1),
    maxByteResponsesPerAddress: integer(env, 'MAX_BYTE_RESPONSES_PER_ADDRESS', 16, 1),
    sendTimeoutMs: integer(env, 'SEND_TIMEOUT_SECONDS', 30, 1) * 1000,
    seedActivationsPerMinute: integer(env, 'SEED_ACTIVATIONS_PER_MINUTE', 60, 1),
    pinsPerKey: integer(env, 'PINS_PER_KEY', 10, 0),
    quotaBytesPerKey: integer(env, 'QUOTA_BYTES_PER_KEY', 10 * 1024 ** 3, 0),
    quotaFilesPerKey: integer(env, 'QUOTA_FILES_PER_KEY', 10_000, 0),
    challengesPerMinute: integer(env, 'CHALLENGES_PER_MINUTE', 30, 1),
    uploadStartsPerMinute: integer(env, 'UPLOAD_STARTS_PER_MINUTE', 60, 1),
    verifyReadsPerMinute: integer(env, 'VERIFY_READS_PER_MINUTE', 30, 1),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    historySampleMs: integer(env, 'HISTORY_SAMPLE_SECONDS', 10, 1) * 1000,
    arweaveUrl: env.ARWEAVE_URL ? url('ARWEAVE_URL', env.ARWEAVE_URL, ['http:', 'https:']) : undefined,
    arweaveWalletFile: env.ARWEAVE_WALLET_FILE ? path.resolve(env.ARWEAVE_WALLET_FILE) : undefined,
    arweavePollMs: integer(env, 'ARWEAVE_POLL_SECONDS', 60, 1) * 1000,
    arweaveMaxReward: integer(env, 'ARWEAVE_MAX_REWARD', DEFAULT_ARWEAVE_MAX_REWARD, 0),
    // The switch is checked even without a gateway, so a typo shows before it matters.
    arweaveIndex: (env.ARWEAVE_INDEX === undefined || env.ARWEAVE_INDEX === '' || flag(env, 'ARWEAVE_INDEX')) && Boolean(env.ARWEAVE_URL),
    gunPeers: urlList(env, 'GUN_PEERS', ['http:', 'https:', 'ws:', 'wss:']),
    gunPollMs: integer(env, 'GUN_POLL_SECONDS', 60, 1) * 1000
  }
}
