/**
 * The seed's MediaSeeder: one WebTorrent client that seeds stored files over TCP (any
 * BitTorrent client) and WebRTC (browsers), and resumes after a restart from the stored
 * .torrent files without hashing a piece again.
 *
 * Selective seeding: every seeded torrent is in the catalogue, but at most `maxActive` of them
 * are active in the client, so 10,000 files cost 10,000 small entries, not 10,000 torrents. The
 * least recently wanted go idle (out of the client; the bytes stay) and come back the moment
 * someone wants them: a peer's announce at the tracker, a request for the .torrent or the bytes.
 * Pinned torrents stay active. Demand brings at most `activationsPerMinute` idle torrents up
 * (anyone can make demand, and each one coming up sends another idle): past that a wanted
 * torrent stays idle until the next minute, its bytes still served over HTTP and its web seed.
 *
 * A private torrent is served only to the peers its PrivateSeed admits (the tracker's admitted
 * peer ids): any other wire is cut at the handshake, before a byte of ours goes out. Its
 * announces carry a tracker capability for that torrent alone, renewed before it expires.
 */
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { decode as decodeMagnet } from 'magnet-uri'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import type { SeedInfo, SeederStats } from '../../shared/media.ts'
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import { withTransport } from '../../shared/torrent.ts'
import type { Logger } from '../logger.ts'
import type { Catalog } from '../media/catalog.ts'
import { replaceFile } from '../storage/fsBlobStore.ts'

export interface MediaSeederOptions {
  catalog: Catalog
  /** MEDIA_DIR/seeder.json */
  stateFile: string
  torrentPort: number
  /** The interface BitTorrent peers may connect on (HOST). */
  host: string
  log: Logger
  /** At most this many torrents active in the client at once (SEED_MAX_ACTIVE). */
  maxActive: number
  /** Idle torrents that demand (want) may bring up per minute (SEED_ACTIVATIONS_PER_MINUTE); unlimited when left out. */
  activationsPerMinute?: number
  /** ICE servers for WebRTC peers; none are needed on a LAN or for a server with a public address. */
  rtcConfig?: RTCConfiguration
  /** Bytes/s to and from peers; undefined = unlimited. Changeable with setLimits. */
  limits?: SeedLimits
  /** false: keep the seeding state but open no BitTorrent connections (SEEDING=false). */
  enabled?: boolean
  /** Which stored blobs to seed when seeder.json has to be rebuilt from the folders. */
  isSeedable?: (mediaId: string) => Promise<boolean>
  /** The infoHashes owners pinned (read once at start; setPinned keeps them current). */
  pinned?: () => Promise<Set<string>>
}

/**
 * What seeder.json keeps per public file. The seed's SeedInfo also has the magnet link and the
 * path, but both follow from these (and the magnet from today's trackers): leaving them out
 * makes the file a third of the size, and every start reads it whole.
 */
interface StoredSeed {
  mediaId: string
  infoHash: string
  /** The torrent's name (the magnet's dn). */
  name: string
  fileSize: number
  /** When it was seeded (ms): a number, so a start parses no dates. */
  createdAt: number
}

interface SeedingState {
  /** 1: the seed's SeedInfo entries (still read); 2: StoredSeed entries. */
  version: 1 | 2
  seeding: Array<StoredSeed | SeedInfo>
  /** infoHash → when it was last wanted (ms), so a restart brings the most wanted up first. */
  wanted?: Record<string, number>
}

/** An entry as read: a version-1 entry's name is in its magnet link. */
const storedSeed = (s: StoredSeed | SeedInfo): StoredSeed => 'name' in s
  ? (Number.isFinite(s.createdAt) ? s : { ...s, createdAt: 0 })
  : { mediaId: s.mediaId, infoHash: s.infoHash, fileSize: s.fileSize, createdAt: Date.parse(s.createdAt) || 0, name: decodeMagnet(s.magnetURI).name ?? '' }

/** A tracker capability and when it expires (ms). */
export interface TrackerToken {
  token: string
  expiresAt: number
}

/** What a private torrent has beyond a public one: who may connect, and its own capability. */
interface PrivateAccess {
  /** May the peer with this (hex) peer id be served? */
  admits: (peerId: string) => boolean
  /** A fresh tracker capability for this torrent alone. */
  trackerToken: () => Promise<TrackerToken>
  /** The capability its announces carry now (while active). */
  token?: string
  /** Renews it at its half-life. */
  renewal?: NodeJS.Timeout
}

/** A private record's torrent, as the seeder needs it. */
export interface PrivateSeed extends Omit<PrivateAccess, 'token' | 'renewal'> {
  mediaId: string
  infoHash: string
  /** When the record was made (ISO). */
  createdAt: string
  /** Builds the .torrent (announcing to our tracker only) when it goes active. */
  torrentFile: () => Promise<Uint8Array>
}

/** One torrent in the catalogue, active or idle. */
interface Seed {
  mediaId: string
  infoHash: string
  kind: 'public' | 'private'
  torrentFile: () => Promise<Uint8Array>
  /** When it was seeded (ms): files nobody asked for yet rank by age. */
  createdAt: number
  wantedAt?: number
  pinned: boolean
  /** Bytes sent to peers in its earlier active spells. */
  uploaded: number
  /** A peer announced while it was idle: its next announce asks for peers (see add). */
  prime: boolean
  /** Set for private torrents only. */
  access?: PrivateAccess
}

/** What a count covers: every torrent (operators), or public ones only (anyone: a private file must not show, not even as a number). */
export type StatsScope = 'all' | 'public'

export interface TrackerState {
  url: string
  /** A WebSocket tracker's connection is open (undefined for HTTP/UDP trackers, which have none). */
  connected?: boolean
  announces: number
  lastAnnounceAt?: string
  lastError?: string
  lastErrorAt?: string
}

/** Tracker URLs as they appear in stats: capabilities (?token=) stripped. */
const trackerKey = (url: string): string => url.split('?')[0]!

/** The counts a torrent of this kind is in: every torrent's, and public ones' too when it is public. */
const scopesOf = (kind: 'public' | 'private' | undefined): readonly StatsScope[] => kind === 'public' ? ['all', 'public'] : ['all']

const MISSING_STATE = 'seeder.json is missing'

/** WebRTC offers in the one announce after a peer found the torrent idle (the ws client's cap is 5). */
const PRIME_NUMWANT = 5
/** Torrents brought up at once when resuming: enough to hide file reads, few enough to leave the API room. */
const RESUME_CONCURRENCY = 8

export interface SeedLimits {
  upload?: number
  download?: number
}

export interface TorrentStatus {
  /** The server seeds this torrent (active now, or idle until someone wants it). */
  seeding: boolean
  /** active: in the BitTorrent client now; idle: comes up when a peer, the .torrent or the bytes are asked for. */
  state: 'active' | 'idle'
  /** Share of pieces the seeder offers (1 when active: it serves the whole file). */
  progress: number
  peers: number
  /** Bytes sent to peers since the server started. */
  uploaded: number
  /** When someone last asked for the file: its .torrent, its bytes, or its swarm at the tracker. */
  lastWanted: string | null
  /** The seeder's BitTorrent peer id (hex), so a browser can tell the server's peer from other browsers. */
  peerId: string | null
}

export class MediaSeeder {
  private readonly opts: MediaSeederOptions
  private client: WebTorrent | undefined
  /** Public seeds by mediaId: the seed's seeding state (seeder.json). */
  private readonly seeding = new Map<string, StoredSeed>()
  /** The catalogue: every seeded torrent, public and private, by infoHash. */
  private readonly seeds = new Map<string, Seed>()
  /** The active ones: in the client now. */
  private readonly torrents = new Map<string, Torrent>()
  private readonly activating = new Map<string, Promise<boolean>>()
  private resuming: Promise<unknown> = Promise.resolve()
  /** Totals of torrents that went idle, so the seeder's totals never go down. */
  private readonly retired: Record<StatsScope, { uploaded: number, downloaded: number }> = { all: { uploaded: 0, downloaded: 0 }, public: { uploaded: 0, downloaded: 0 } }
  /** The kind of each active torrent, kept until it is idle (its seed may be gone by then). */
  private readonly activeKind = new Map<string, Seed['kind']>()
  private saving: Promise<void> = Promise.resolve()
  /** Each tracker's state by what counts in it: every torrent's announces, or public torrents' only. */
  private readonly trackers: Record<StatsScope, Map<string, TrackerState>> = { all: new Map(), public: new Map() }
  /** Bytes sent to peers since start, by transport (for /metrics). */
  readonly uploadedByTransport = { tcp: 0, webrtc: 0 }
  /** Idle torrents that demand brought up, and those it found idle past the rate and left so (for /metrics). */
  readonly demand = { activated: 0, deferred: 0 }
  private readonly activations: RateLimiterMemory | undefined

  private limits: SeedLimits

  constructor (opts: MediaSeederOptions) {
    this.opts = opts
    this.limits = { ...opts.limits }
    if (opts.activationsPerMinute !== undefined) this.activations = new RateLimiterMemory({ points: opts.activationsPerMinute, duration: 60 })
  }

  get seedLimits (): SeedLimits {
    return { ...this.limits }
  }

  /** Change the bandwidth limits now, for every torrent (undefined = unlimited). */
  setLimits (limits: SeedLimits): void {
    this.limits = { ...limits }
    this.client?.throttleUpload(limits.upload ?? -1)
    this.client?.throttleDownload(limits.download ?? -1)
    this.opts.log.info({ limits }, 'seeding bandwidth limits changed')
  }

  /** The BitTorrent client's peer id (hex), to tell its own announces from others'. */
  get peerId (): string | undefined {
    return this.client?.peerId
  }

  get torrentPort (): number {
    return this.client?.torrentPort ?? 0
  }

  /** Pins may take half of the active slots, so files wanted on demand always find room. */
  get maxPinned (): number {
    return Math.floor(this.opts.maxActive / 2)
  }

  /**
   * Load the catalogue (seeder.json; no torrent file is read), start the client, and start
   * resuming: up to maxActive torrents come up in the background (whenResumed), while any
   * torrent that is wanted meanwhile comes up at once. false when the client could not start.
   */
  async initialize (): Promise<boolean> {
    const { log } = this.opts
    const loading = performance.now()
    const state = await this.readState()
    for (const info of state.seeding) this.addPublic(info)
    const pinned = await this.opts.pinned?.() ?? new Set()
    for (const seed of this.seeds.values()) {
      seed.wantedAt = state.wanted[seed.infoHash]
      seed.pinned = pinned.has(seed.infoHash)
    }
    // What start-up costs per stored file (bench/restart reads it): no torrent file is read here.
    log.info({ files: this.seeds.size, ms: Math.round((performance.now() - loading) * 1000) / 1000 }, 'catalogue loaded')
    if (this.opts.enabled === false) {
      log.warn('SEEDING=false: files are stored, tracked and served over HTTP, but not seeded over BitTorrent')
      return true
    }
    try {
      const client = new WebTorrent({
        // WebTorrent has no option for the interface, but its connection pool hands torrentPort
        // to net.Server.listen as is, which takes { port, host } too (checked below).
        torrentPort: { port: this.opts.torrentPort, host: this.opts.host },
        // Our own tracker finds peers; DHT and LSD would leak infoHashes and need the internet.
        dht: false,
        lsd: false,
        utp: false,
        natUpnp: false,
        natPmp: false,
        uploadLimit: this.limits.upload ?? -1,
        downloadLimit: this.limits.download ?? -1,
        tracker: {
          rtcConfig: this.opts.rtcConfig ?? { iceServers: [] },
          // A seeder never needs to start connections: leechers send the WebRTC offers. Offers
          // from both sides at once cross, and both peers drop the half the other kept
          // (webtorrent#401), leaving a browser without the server for a whole announce interval.
          getAnnounceOpts: () => ({ numwant: 0 })
        }
      })
      client.on('error', (err: Error) => log.error({ err: err.message }, 'webtorrent client error'))
      await new Promise<void>((resolve, reject) => {
        if (client.listening) return resolve()
        client.once('listening', resolve)
        client.once('error', reject)
      })
      const bound = client.address()?.address
      if (net.isIP(this.opts.host) && bound !== this.opts.host) {
        client.destroy()
        throw new Error(`the BitTorrent port listens on ${bound ?? 'nothing'}, not on HOST ${this.opts.host}`)
      }
      this.client = client
      log.info({ mediaDir: path.dirname(this.opts.stateFile), trackers: this.opts.catalog.announce, torrentPort: client.torrentPort, files: this.seeds.size, maxActive: this.opts.maxActive }, 'MediaSeeder initialized')
      const started = performance.now()
      this.resuming = this.resumeSeeding().then(({ resumed, failed }) => {
        log.info({ resumed, failed, idle: this.seeds.size - this.torrents.size, ms: Math.round(performance.now() - started) }, `resumed seeding: ${resumed} torrents active, ${failed} failed`)
      })
      return true
    } catch (err) {
      log.error({ err: (err as Error).message }, 'MediaSeeder failed to start; serving goes on without P2P')
      return false
    }
  }

  /** Resolves once the torrents initialize brings up are up. */
  async whenResumed (): Promise<void> {
    await this.resuming
  }

  /** Seed a stored blob. `filePath` must be its location in the store (no seeding of other paths). */
  async seedFile (filePath: string, mediaId: string): Promise<SeedInfo> {
    if (!this.opts.catalog.store.isLocation(filePath, mediaId)) throw new Error(`seedFile: ${filePath} is not the stored file of ${mediaId}`)
    const stored = await this.publicSeed(mediaId)
    const seed = this.addPublic(stored)
    await this.activate(seed)
    await this.saveSeedingState()
    return this.seedInfo(stored)
  }

  getSeedingInfo (mediaId: string): SeedInfo | undefined {
    const stored = this.seeding.get(mediaId)
    return stored && this.seedInfo(stored)
  }

  getAllSeeding (): SeedInfo[] {
    return [...this.seeding.values()].map(s => this.seedInfo(s))
  }

  /**
   * Counts of seeded and active torrents, their peers and the bytes they moved: of every
   * torrent (`all`, for operators), or of public ones only (`public`, for anyone).
   */
  getStats (scope: StatsScope = 'all'): SeederStats {
    let totalUploaded = this.retired[scope].uploaded
    let totalDownloaded = this.retired[scope].downloaded
    let peers = 0
    let activeTorrents = 0
    for (const [infoHash, t] of this.torrents) {
      if (!scopesOf(this.activeKind.get(infoHash)).includes(scope)) continue
      totalUploaded += t.uploaded
      totalDownloaded += t.received
      peers += t.numPeers
      activeTorrents++
    }
    const seedingCount = scope === 'public' ? this.seeding.size : this.seeds.size
    return { seedingCount, activeTorrents, totalUploaded, totalDownloaded, peers }
  }

  /** Public files by bytes sent to peers, most first (private torrents are never listed). */
  async topFiles (n: number): Promise<Array<{ mediaId: string, name: string, infoHash: string, uploaded: number, peers: number }>> {
    const top = [...this.seeding.values()]
      .map(info => ({ mediaId: info.mediaId, infoHash: info.infoHash, uploaded: this.status(info.infoHash).uploaded, peers: this.torrents.get(info.infoHash)?.numPeers ?? 0 }))
      .sort((a, b) => b.uploaded - a.uploaded)
      .slice(0, n)
    return await Promise.all(top.map(async t => ({ ...t, name: (await this.opts.catalog.manifest(t.mediaId).catch(() => undefined))?.originalName ?? '' })))
  }

  /**
   * Someone wants this torrent now: note it, and bring it up if it is idle and the minute's
   * activations allow (resolves once it is active, or at once when it stays idle).
   * `announced`: a peer announced it at the tracker and waits in the swarm.
   */
  async want (infoHash: string, opts: { announced?: boolean } = {}): Promise<void> {
    const seed = this.seeds.get(infoHash)
    if (!seed || !this.client) return
    seed.wantedAt = Date.now()
    if (this.torrents.has(infoHash) || this.activating.has(infoHash)) return void await this.activate(seed)
    if (opts.announced) seed.prime = true
    if (!await this.mayActivate()) {
      this.demand.deferred++
      return
    }
    this.demand.activated++
    await this.activate(seed)
  }

  /** Takes one of the minute's demand activations, if one is left. */
  private async mayActivate (): Promise<boolean> {
    if (!this.activations) return true
    return await this.activations.consume('demand').then(() => true, () => false)
  }

  /** Live status of one torrent, for /api/media/:id/info. */
  status (infoHash: string): TorrentStatus {
    const seed = this.seeds.get(infoHash)
    const t = this.torrents.get(infoHash)
    return {
      seeding: seed !== undefined && this.opts.enabled !== false,
      state: t ? 'active' : 'idle',
      progress: t?.progress ?? 0,
      peers: t?.numPeers ?? 0,
      uploaded: (seed?.uploaded ?? 0) + (t?.uploaded ?? 0),
      lastWanted: seed?.wantedAt === undefined ? null : new Date(seed.wantedAt).toISOString(),
      peerId: this.client?.peerId ?? null
    }
  }

  /** May this torrent be pinned now? (Already pinned, or a pin slot is free.) */
  canPin (infoHash: string): boolean {
    return this.seeds.get(infoHash)?.pinned === true || [...this.seeds.values()].filter(s => s.pinned).length < this.maxPinned
  }

  /** Keep a torrent active whatever else is wanted (pinned), or let it go idle in its turn. */
  async setPinned (infoHash: string, pinned: boolean): Promise<void> {
    const seed = this.seeds.get(infoHash)
    if (!seed) return
    seed.pinned = pinned
    if (pinned) await this.activate(seed)
  }

  /** Seed a private record's torrent (announced with the seeder's own tracker capability). */
  async seedPrivate (seed: PrivateSeed): Promise<void> {
    if (this.seeds.has(seed.infoHash)) return
    const entry = newSeed(seed.mediaId, seed.infoHash, 'private', seed.torrentFile, Date.parse(seed.createdAt) || 0)
    entry.access = { admits: seed.admits, trackerToken: seed.trackerToken }
    this.seeds.set(seed.infoHash, entry)
    await this.activate(entry)
  }

  async stopPrivate (infoHash: string): Promise<void> {
    const seed = this.seeds.get(infoHash)
    if (seed?.kind !== 'private') return
    this.seeds.delete(infoHash)
    clearTimeout(seed.access?.renewal)
    await this.idle(infoHash)
  }

  /** seeder.json, or — when it is missing or damaged — the state rebuilt from the media folders. */
  async loadSeedingState (): Promise<SeedInfo[]> {
    return (await this.readState()).seeding.map(s => this.seedInfo(s))
  }

  private async readState (): Promise<{ seeding: StoredSeed[], wanted: Record<string, number> }> {
    const { log } = this.opts
    let text: string
    try {
      text = await fs.readFile(this.opts.stateFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: (err as Error).message }, 'seeder.json unreadable')
      return { seeding: await this.rebuildState(MISSING_STATE), wanted: {} }
    }
    try {
      const state = JSON.parse(text) as SeedingState
      if ((state.version !== 1 && state.version !== 2) || !Array.isArray(state.seeding)) throw new Error('unknown format')
      const wanted = Object.fromEntries(Object.entries(state.wanted ?? {}).filter(([, ms]) => Number.isFinite(ms)))
      return { seeding: state.seeding.filter(s => typeof s?.mediaId === 'string' && typeof s.infoHash === 'string').map(storedSeed), wanted }
    } catch (err) {
      return { seeding: await this.rebuildState(`seeder.json is damaged (${(err as Error).message})`), wanted: {} }
    }
  }

  private async rebuildState (reason: string): Promise<StoredSeed[]> {
    const { log, catalog, isSeedable } = this.opts
    const rebuilt: StoredSeed[] = []
    for await (const mediaId of catalog.store.list()) {
      if (isSeedable && !await isSeedable(mediaId)) continue
      try {
        rebuilt.push(await this.publicSeed(mediaId))
      } catch (err) {
        log.warn({ mediaId, err: (err as Error).message }, 'skipping a media folder that cannot be read')
      }
    }
    // A fresh install has no seeder.json and nothing to rebuild: nothing is wrong.
    if (rebuilt.length > 0 || reason !== MISSING_STATE) log.warn({ files: rebuilt.length }, `${reason}; rebuilt seeding state from the media folders`)
    return rebuilt
  }

  /** Write seeder.json atomically (temp file, fsync, rename); writes are queued, never interleaved. */
  async saveSeedingState (): Promise<void> {
    const write = async (): Promise<void> => {
      const wanted: Record<string, number> = {}
      for (const seed of this.seeds.values()) if (seed.wantedAt !== undefined) wanted[seed.infoHash] = seed.wantedAt
      const state: SeedingState = { version: 2, seeding: [...this.seeding.values()], wanted }
      // Unindented: with 10,000 files it is read at every start.
      await replaceFile(this.opts.stateFile, JSON.stringify(state))
    }
    this.saving = this.saving.then(write, write)
    await this.saving
  }

  /**
   * Bring up to maxActive torrents up from their stored .torrent files (no piece is hashed):
   * pinned ones first, then the most recently wanted. Public files that cannot be resumed
   * leave the catalogue; the rest stay idle until wanted.
   */
  async resumeSeeding (): Promise<{ resumed: number, failed: number }> {
    const first = [...this.seeds.values()].sort(byWant).reverse().slice(0, this.opts.maxActive)
    let resumed = 0
    let failed = 0
    const next = first[Symbol.iterator]()
    const worker = async (): Promise<void> => {
      for (let r = next.next(); !r.done && this.client; r = next.next()) {
        const seed = r.value
        if (await this.activate(seed)) {
          resumed++
        } else if (this.client) {
          failed++
          if (seed.kind === 'public') this.removePublic(seed.mediaId)
        }
      }
    }
    await Promise.all(Array.from({ length: RESUME_CONCURRENCY }, worker))
    // Closed meanwhile: the state on disk stays as it was.
    if (this.client) await this.saveSeedingState()
    return { resumed, failed }
  }

  async stopSeeding (mediaId: string): Promise<void> {
    const info = this.removePublic(mediaId)
    if (!info) return
    await this.idle(info.infoHash)
    await this.saveSeedingState()
  }

  async close (): Promise<void> {
    const client = this.client
    this.client = undefined
    this.torrents.clear()
    this.activeKind.clear()
    for (const seed of this.seeds.values()) clearTimeout(seed.access?.renewal)
    await this.resuming
    await this.saving.catch(() => {})
    if (client) await new Promise<void>(resolve => client.destroy(() => resolve()))
  }

  /**
   * Each tracker's state as the seeder sees it: announces that got an answer, the last error,
   * and whether a WebSocket tracker is connected. An unreachable tracker only shows up here:
   * the others, and the web seed, carry on.
   */
  trackerStates (scope: StatsScope = 'all'): TrackerState[] {
    const torrents = [...this.torrents].filter(([infoHash]) => scopesOf(this.activeKind.get(infoHash)).includes(scope)).map(([, t]) => t)
    return this.opts.catalog.announce.map(url => {
      const key = trackerKey(url)
      const state = this.trackers[scope].get(key) ?? { url: key, announces: 0 }
      const sockets = torrents.flatMap(t => trackerClient(t)?._trackers ?? []).filter(c => trackerKey(c.announceUrl) === key && 'socket' in c)
      return sockets.length > 0 ? { ...state, connected: sockets.some(c => c.socket?.connected === true) } : { ...state }
    })
  }

  /** A tracker's state in each scope the torrent counts in (every torrent counts in `all`, public ones in `public` too). */
  private trackerStatesFor (url: string, kind: Seed['kind']): TrackerState[] {
    const key = trackerKey(url)
    return scopesOf(kind).map(scope => {
      let s = this.trackers[scope].get(key)
      if (!s) this.trackers[scope].set(key, s = { url: key, announces: 0 })
      return s
    })
  }

  /**
   * Note each tracker's answers and errors under its own URL. bittorrent-tracker's per-tracker
   * objects report through their parent client, and some errors do not name the tracker (an
   * HTTP tracker's network error is a bare "fetch failed"). So each one reports through a view
   * of the parent that notes its URL first, then passes everything on unchanged.
   */
  private watchTrackers (torrent: Torrent, kind: Seed['kind']): void {
    for (const tracker of trackerClient(torrent)?._trackers ?? []) {
      const parent = tracker.client
      const emit = (event: string, ...args: unknown[]): boolean => {
        if (event === 'update') {
          for (const s of this.trackerStatesFor(tracker.announceUrl, kind)) {
            s.announces++
            s.lastAnnounceAt = new Date().toISOString()
          }
        } else if (event === 'warning') {
          for (const s of this.trackerStatesFor(tracker.announceUrl, kind)) {
            s.lastError = describe(args[0] as Error)
            s.lastErrorAt = new Date().toISOString()
          }
        }
        return parent.emit(event, ...args)
      }
      tracker.client = Object.create(parent, { emit: { value: emit } }) as typeof parent
    }
  }

  private addPublic (info: StoredSeed): Seed {
    this.seeding.set(info.mediaId, info)
    let seed = this.seeds.get(info.infoHash)
    if (!seed) {
      // The server is its own web seed; announcing it to itself would only make noise.
      const torrentFile = async (): Promise<Uint8Array> => withTransport(await this.opts.catalog.torrent(info.mediaId), { announce: this.opts.catalog.seederAnnounce, urlList: [] })
      this.seeds.set(info.infoHash, seed = newSeed(info.mediaId, info.infoHash, 'public', torrentFile, info.createdAt))
    }
    return seed
  }

  private removePublic (mediaId: string): StoredSeed | undefined {
    const info = this.seeding.get(mediaId)
    if (!info) return undefined
    this.seeding.delete(mediaId)
    this.seeds.delete(info.infoHash)
    return info
  }

  private async publicSeed (mediaId: string): Promise<StoredSeed> {
    const manifest = await this.opts.catalog.manifest(mediaId)
    return { mediaId, infoHash: manifest.infoHash, name: manifest.originalName, fileSize: manifest.fileSize, createdAt: Date.parse(manifest.createdAt) || 0 }
  }

  /** The seed's SeedInfo: the magnet with today's trackers, the blob's location in the store. */
  private seedInfo (s: StoredSeed): SeedInfo {
    const { catalog } = this.opts
    return {
      mediaId: s.mediaId,
      infoHash: s.infoHash,
      magnetURI: catalog.magnet({ mediaId: s.mediaId, infoHash: s.infoHash, originalName: s.name }),
      filePath: catalog.store.location(s.mediaId),
      createdAt: new Date(s.createdAt).toISOString(),
      fileSize: s.fileSize
    }
  }

  /** Bring a seed into the client unless it is there (one attempt at a time); true when active. */
  private async activate (seed: Seed): Promise<boolean> {
    if (!this.client) return false
    if (this.torrents.has(seed.infoHash)) return true
    let pending = this.activating.get(seed.infoHash)
    if (!pending) {
      pending = this.bringUp(seed).finally(() => this.activating.delete(seed.infoHash))
      this.activating.set(seed.infoHash, pending)
    }
    return await pending
  }

  private async bringUp (seed: Seed): Promise<boolean> {
    const { log } = this.opts
    try {
      if (seed.access) await this.renewToken(seed, seed.access)
      const torrent = await this.add(seed, await seed.torrentFile())
      if (this.seeds.get(seed.infoHash) !== seed) {
        // Stopped while it was coming up.
        await this.idle(seed.infoHash)
        return false
      }
      // A peer announced after this torrent's first announce had left without asking for
      // peers: announce again, asking, so our offer reaches it.
      if (seed.prime) trackerClient(torrent)?.update()
      this.makeRoom(seed.infoHash)
      return true
    } catch (err) {
      log.warn({ mediaId: seed.mediaId, err: (err as Error).message }, 'could not start seeding a torrent')
      return false
    }
  }

  /** Idle the least recently wanted torrents (pinned ones last) until at most maxActive are active. */
  private makeRoom (keep: string): void {
    while (this.torrents.size > this.opts.maxActive) {
      let victim: Seed | undefined
      for (const infoHash of this.torrents.keys()) {
        const seed = this.seeds.get(infoHash)
        if (!seed || infoHash === keep) continue
        if (!victim || byWant(seed, victim) < 0) victim = seed
      }
      if (!victim) return
      if (victim.pinned) this.opts.log.warn({ maxActive: this.opts.maxActive }, 'more pinned torrents than SEED_MAX_ACTIVE: a pinned one goes idle')
      void this.idle(victim.infoHash)
    }
  }

  /** Take a torrent out of the client (the bytes stay); its counts stay with its seed. */
  private async idle (infoHash: string): Promise<void> {
    const t = this.torrents.get(infoHash)
    if (!t) return
    this.torrents.delete(infoHash)
    const seed = this.seeds.get(infoHash)
    if (seed) seed.uploaded += t.uploaded
    clearTimeout(seed?.access?.renewal)
    const kind = this.activeKind.get(infoHash)
    this.activeKind.delete(infoHash)
    for (const scope of scopesOf(kind)) {
      this.retired[scope].uploaded += t.uploaded
      this.retired[scope].downloaded += t.received
    }
    await new Promise<void>(resolve => t.destroy({ destroyStore: false }, () => resolve()))
  }

  /** Add a torrent over a stored blob's bytes, taken as complete. */
  private async add (seed: Seed, torrentFile: Uint8Array): Promise<Torrent> {
    const { catalog, log } = this.opts
    const client = this.client
    if (!client) throw new Error('MediaSeeder is not running')
    const { access } = seed
    const torrent = await new Promise<Torrent>((resolve, reject) => {
      // No `path`: WebTorrent hands it only to stores that write files, and this one reads the blob store.
      const t = client.add(torrentFile, {
        store: ReadOnlyChunkStore.over(catalog.store.reader(seed.mediaId)),
        skipVerify: true,
        // The client's announces ask for no peers (no offers, see initialize), except once after
        // a peer announced this torrent while it was idle: that peer is already in the swarm and
        // its offers went nowhere, so only an offer from us can reach it now. A private
        // torrent's announces carry its capability (as `token`, in the query or the message).
        getAnnounceOpts: () => {
          const opts = access?.token ? { token: access.token } : {}
          if (!seed.prime) return opts
          seed.prime = false
          return { ...opts, numwant: PRIME_NUMWANT }
        }
      })
      // Before anything else can see a wire: peers may connect as soon as the torrent is added.
      if (access) t.on('wire', (wire: Wire) => { if (!admitted(t, wire, access)) log.debug({ mediaId: seed.mediaId, type: wire.type }, 'refused a peer the tracker did not admit') })
      // Discovery has started, but no tracker has answered yet.
      t.once('ready', () => { this.watchTrackers(t, seed.kind); resolve(t) })
      t.once('error', reject)
    })
    torrent.on('error', (err: Error) => log.error({ mediaId: seed.mediaId, err: err.message }, 'torrent error'))
    torrent.on('warning', (err: Error) => log.debug({ mediaId: seed.mediaId, err: err.message }, 'torrent warning'))
    torrent.on('wire', (wire: Wire) => {
      const transport = wire.type === 'webrtc' ? 'webrtc' : wire.type.startsWith('tcp') ? 'tcp' : undefined
      if (transport) wire.on('upload', (bytes: number) => { this.uploadedByTransport[transport] += bytes })
    })
    this.torrents.set(torrent.infoHash, torrent)
    this.activeKind.set(torrent.infoHash, seed.kind)
    return torrent
  }

  /**
   * Give a private torrent a fresh tracker capability, and renew it at its half-life while the
   * torrent stays active, announcing at once with the new one (so a refused announce shows in
   * the tracker stats now, not an interval later).
   */
  private async renewToken (seed: Seed, access: PrivateAccess): Promise<void> {
    const { token, expiresAt } = await access.trackerToken()
    access.token = token
    clearTimeout(access.renewal)
    access.renewal = setTimeout(() => {
      const torrent = this.torrents.get(seed.infoHash)
      if (!torrent || this.seeds.get(seed.infoHash) !== seed) return
      this.renewToken(seed, access).then(
        () => trackerClient(torrent)?.update(),
        err => this.opts.log.error({ mediaId: seed.mediaId, err: (err as Error).message }, 'could not renew a private torrent\'s tracker capability')
      )
    }, (expiresAt - Date.now()) / 2).unref()
  }
}

/**
 * Is this wire's peer admitted to the private torrent? If not, the peer is destroyed right here,
 * inside the torrent's 'wire' event: webtorrent emits it on the remote's handshake, before it
 * sends our handshake (to incoming peers), the bitfield or any piece, and it checks after the
 * event whether the peer still has a swarm. Destroying only the wire would not do: wire.destroy()
 * ends its writable side, and what webtorrent writes next would still go out.
 */
function admitted (torrent: Torrent, wire: Wire, access: PrivateAccess): boolean {
  if (wire.type === 'webSeed' || (wire.peerId !== undefined && access.admits(wire.peerId))) return true
  const { _peers: peers } = torrent as unknown as { _peers: Map<string, { wire: Wire | null }> }
  const id = [...peers].find(([, peer]) => peer.wire === wire)?.[0]
  // Every peer is registered before its handshake is read; the wire alone is a last resort.
  if (id !== undefined) torrent.removePeer(id)
  else wire.destroy()
  return false
}

function newSeed (mediaId: string, infoHash: string, kind: Seed['kind'], torrentFile: Seed['torrentFile'], createdAt: number): Seed {
  return { mediaId, infoHash, kind, torrentFile, createdAt, pinned: false, uploaded: 0, prime: false }
}

/** Least wanted first: unpinned before pinned, then by when last wanted (or else seeded). */
const byWant = (a: Seed, b: Seed): number =>
  Number(a.pinned) - Number(b.pinned) || Math.max(a.wantedAt ?? 0, a.createdAt) - Math.max(b.wantedAt ?? 0, b.createdAt)

/** A tracker error for the stats: the network cause when there is one, never a capability or the seeder's key. */
function describe (err: Error): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  const why = cause?.code ?? cause?.message
  return `${err.message}${why ? ` (${why})` : ''}`.replace(/[?&](token|seeder)=[^\s)&]+/g, '')
}

interface TrackerClient {
  announceUrl: string
  socket?: { connected?: boolean } | null
  client: NodeJS.EventEmitter
}

/** A torrent's bittorrent-tracker client; it keeps one object per tracker in _trackers. */
function trackerClient (torrent: Torrent): { _trackers: TrackerClient[], update (): void } | undefined {
  return (torrent as unknown as { discovery?: { tracker?: { _trackers: TrackerClient[], update (): void } } }).discovery?.tracker ?? undefined
}
