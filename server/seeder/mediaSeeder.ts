/**
 * The seed's MediaSeeder: one WebTorrent client that seeds stored files over TCP (any
 * BitTorrent client) and WebRTC (browsers), and resumes after a restart from the stored
 * .torrent files without hashing a piece again.
 *
 * Selective seeding: every seeded torrent has a row in the database's seeding state (seeds), but
 * at most `maxActive` of them are active in the client, and only those are in memory: a million
 * files cost a million rows, not a million torrents nor a million map entries. The least
 * recently wanted go idle (out of the client; the bytes stay) and come back the moment someone
 * wants them: a peer's announce at the tracker, a request for the .torrent or the bytes. When
 * each was last wanted and what it sent are written behind, in batches.
 * Pinned torrents stay active. Demand brings at most `activationsPerMinute` idle torrents up
 * (anyone can make demand, and each one coming up sends another idle): past that a wanted
 * torrent stays idle until the next minute, its bytes still served over HTTP and its web seed.
 *
 * A private torrent is served only to the peers its PrivateSeed admits (the tracker's admitted
 * peer ids): any other wire is cut at the handshake, before a byte of ours goes out. Its
 * announces carry a tracker capability for that torrent alone, renewed before it expires.
 */
import net from 'node:net'
import path from 'node:path'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import type { SeedInfo, SeederStats } from '../../shared/media.ts'
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import type { PublicSeed, SeedRepository, SeedRow } from '../catalog/seedRepository.ts'
import type { Logger } from '../logger.ts'
import type { Catalog } from '../media/catalog.ts'
import { SeedingSnapshot } from './seedingSnapshot.ts'

export interface MediaSeederOptions {
  catalog: Catalog
  /** The seeding state in the database: which torrents are seeded, pinned, last wanted. */
  seeds: SeedRepository
  /** Builds what a seeded torrent needs when it comes up. */
  source: SeedSource
  /** MEDIA_DIR/seeder.json: the seed's file, now a snapshot of the public seeding state. */
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
  /** How often what the seeder noted (wanted times, bytes sent) is written to the database (ms). */
  writeBehindMs?: number
}

/** What a seeded torrent needs from the rest of the server when it comes up. */
export interface SeedSource {
  /** The .torrent to seed: the file's info dict, announced to our tracker (with the seeder's key). */
  torrentFile: (seed: SeedRow) => Promise<Uint8Array>
  /** A private torrent's gatekeeping; undefined when its record is gone. */
  privateAccess: (seed: SeedRow) => Promise<Omit<PrivateAccess, 'token' | 'renewal'> | undefined>
}

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

/** A torrent in the client (or coming up), with what decides when it goes idle. */
interface ActiveSeed {
  mediaId: string
  infoHash: string
  kind: SeedRow['kind']
  pinned: boolean
  /** When last wanted, or else when seeded (ms): the least recent goes idle first. */
  rankedAt: number
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

/** Idle torrents a peer announced and that wait for an activation: at most this many are remembered. */
const MAX_PRIMED = 10_000
/** Noted activity is written at once past this many torrents, whatever the interval. */
const MAX_PENDING_ACTIVITY = 10_000
/** Pages of this many rows when walking the public seeds (getAllSeeding, the snapshot). */
const PAGE = 1000

export class MediaSeeder {
  private readonly opts: MediaSeederOptions
  private client: WebTorrent | undefined
  /** The active torrents (and those coming up), by infoHash: the only seeds held in memory. */
  private readonly active = new Map<string, ActiveSeed>()
  /** Their torrents, once in the client. */
  private readonly torrents = new Map<string, Torrent>()
  private readonly activating = new Map<string, Promise<boolean>>()
  /** Idle torrents a peer announced: their first announce once up asks for peers. */
  private readonly primed = new Set<string>()
  /** Wanted times and bytes sent not yet written to the database. */
  private readonly activity = new Map<string, { wantedAt?: number, uploaded?: number }>()
  /** Per active torrent: how much of torrent.uploaded went into the row already. */
  private readonly writtenUploads = new Map<string, number>()
  private writing: Promise<void> = Promise.resolve()
  private writer: NodeJS.Timeout | undefined
  private resuming: Promise<unknown> = Promise.resolve()
  /** Totals of torrents that went idle, so the seeder's totals never go down. */
  private readonly retired: Record<StatsScope, { uploaded: number, downloaded: number }> = { all: { uploaded: 0, downloaded: 0 }, public: { uploaded: 0, downloaded: 0 } }
  /** Each tracker's state by what counts in it: every torrent's announces, or public torrents' only. */
  private readonly trackers: Record<StatsScope, Map<string, TrackerState>> = { all: new Map(), public: new Map() }
  /** Bytes sent to peers since start, by transport (for /metrics). */
  readonly uploadedByTransport = { tcp: 0, webrtc: 0 }
  /** Idle torrents that demand brought up, and those it found idle past the rate and left so (for /metrics). */
  readonly demand = { activated: 0, deferred: 0 }
  private readonly activations: RateLimiterMemory | undefined
  readonly snapshot: SeedingSnapshot

  private limits: SeedLimits

  constructor (opts: MediaSeederOptions) {
    this.opts = opts
    this.limits = { ...opts.limits }
    if (opts.activationsPerMinute !== undefined) this.activations = new RateLimiterMemory({ points: opts.activationsPerMinute, duration: 60 })
    this.snapshot = new SeedingSnapshot({ file: opts.stateFile, seeds: async function * () { yield * allPublicSeeds(opts.seeds) }, log: opts.log })
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
   * Start the client and start resuming: the maxActive most wanted torrents come up in the
   * background (whenResumed), while any torrent wanted meanwhile comes up at once. Nothing is
   * read per stored file. false when the client could not start.
   */
  async initialize (): Promise<boolean> {
    const { log } = this.opts
    this.writer = setInterval(() => { void this.writeActivity() }, this.opts.writeBehindMs ?? 2000)
    this.writer.unref()
    // Written once after each start: the file may be missing, damaged or from an older version.
    this.snapshot.changed()
    this.snapshot.start()
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
      log.info({ mediaDir: path.dirname(this.opts.stateFile), trackers: this.opts.catalog.announce, torrentPort: client.torrentPort, maxActive: this.opts.maxActive }, 'MediaSeeder initialized')
      const started = performance.now()
      this.resuming = this.resumeSeeding().then(({ resumed, failed }) => {
        log.info({ resumed, failed, ms: Math.round(performance.now() - started) }, `resumed seeding: ${resumed} torrents active, ${failed} failed`)
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

  /**
   * The seed's seedFile: seed a stored public file (its face torrent) and bring it up.
   * `filePath` must be its location in the store (no seeding of other paths).
   */
  async seedFile (filePath: string, mediaId: string): Promise<SeedInfo> {
    const { catalog, seeds } = this.opts
    if (!catalog.store.isLocation(filePath, mediaId)) throw new Error(`seedFile: ${filePath} is not the stored file of ${mediaId}`)
    const [seed] = await seeds.publicSeeds({ limit: 1, mediaId })
    if (!seed) throw new Error(`seedFile: ${mediaId} is not a public file (only files with a public record are seeded publicly)`)
    const row = await seeds.get(seed.infoHash)
    if (row) await this.activate(row)
    return this.seedInfo(seed)
  }

  async getSeedingInfo (mediaId: string): Promise<SeedInfo | undefined> {
    const [seed] = await this.opts.seeds.publicSeeds({ limit: 1, mediaId })
    return seed && this.seedInfo(seed)
  }

  /** Every public file seeded: read a page at a time, so its cost is in the caller's hands. */
  async getAllSeeding (): Promise<SeedInfo[]> {
    const all: SeedInfo[] = []
    for await (const seed of allPublicSeeds(this.opts.seeds)) all.push(this.seedInfo(seed))
    return all
  }

  /**
   * Counts of seeded and active torrents, their peers and the bytes they moved: of every
   * torrent (`all`, for operators), or of public ones only (`public`, for anyone).
   */
  async getStats (scope: StatsScope = 'all'): Promise<SeederStats> {
    let totalUploaded = this.retired[scope].uploaded
    let totalDownloaded = this.retired[scope].downloaded
    let peers = 0
    let activeTorrents = 0
    for (const [infoHash, t] of this.torrents) {
      if (!scopesOf(this.active.get(infoHash)?.kind).includes(scope)) continue
      totalUploaded += t.uploaded
      totalDownloaded += t.received
      peers += t.numPeers
      activeTorrents++
    }
    const seedingCount = await this.opts.seeds.count(scope === 'public' ? 'public' : undefined)
    return { seedingCount, activeTorrents, totalUploaded, totalDownloaded, peers }
  }

  /** Public files by bytes sent to peers, most first (private torrents are never listed). */
  async topFiles (n: number): Promise<Array<{ mediaId: string, name: string, infoHash: string, uploaded: number, peers: number }>> {
    await this.writeActivity()
    const top = await this.opts.seeds.topUploaded(n)
    return await Promise.all(top.map(async seed => ({
      mediaId: seed.mediaId,
      infoHash: seed.infoHash,
      uploaded: seed.uploaded + (this.torrents.get(seed.infoHash)?.uploaded ?? 0) - this.written(seed.infoHash),
      peers: this.torrents.get(seed.infoHash)?.numPeers ?? 0,
      name: (await this.opts.catalog.manifest(seed.mediaId).catch(() => undefined))?.originalName ?? ''
    })))
  }

  /**
   * Someone wants this torrent now: note it, and bring it up if it is idle and the minute's
   * activations allow (resolves once it is active, or at once when it stays idle).
   * `announced`: a peer announced it at the tracker and waits in the swarm.
   */
  async want (infoHash: string, opts: { announced?: boolean } = {}): Promise<void> {
    if (!this.client) return
    const now = Date.now()
    const active = this.active.get(infoHash)
    if (active) {
      active.rankedAt = now
      this.note(infoHash, { wantedAt: now })
      return void await this.activating.get(infoHash)
    }
    const row = await this.opts.seeds.get(infoHash)
    if (!row) return
    this.note(infoHash, { wantedAt: now })
    if (opts.announced) this.prime(infoHash)
    if (!await this.mayActivate()) {
      this.demand.deferred++
      return
    }
    this.demand.activated++
    await this.activate({ ...row, wantedAt: now, rankedAt: now })
  }

  /** Takes one of the minute's demand activations, if one is left. */
  private async mayActivate (): Promise<boolean> {
    if (!this.activations) return true
    return await this.activations.consume('demand').then(() => true, () => false)
  }

  /** Live status of one torrent, for /api/media/:id/info. */
  async status (infoHash: string): Promise<TorrentStatus> {
    const row = await this.opts.seeds.get(infoHash)
    const t = this.torrents.get(infoHash)
    const wantedAt = Math.max(row?.wantedAt ?? 0, this.activity.get(infoHash)?.wantedAt ?? 0)
    return {
      seeding: row !== undefined && this.opts.enabled !== false,
      state: t ? 'active' : 'idle',
      progress: t?.progress ?? 0,
      peers: t?.numPeers ?? 0,
      uploaded: (row?.uploaded ?? 0) + (t?.uploaded ?? 0) - this.written(infoHash) + (this.activity.get(infoHash)?.uploaded ?? 0),
      lastWanted: row && wantedAt > 0 ? new Date(wantedAt).toISOString() : null,
      peerId: this.client?.peerId ?? null
    }
  }

  /** May this torrent be pinned now? (Already pinned, or a pin slot is free.) */
  async canPin (infoHash: string): Promise<boolean> {
    const { seeds } = this.opts
    return (await seeds.get(infoHash))?.pinned === true || await seeds.pinnedCount() < this.maxPinned
  }

  /** The database says this torrent is pinned now (or not): keep it active whatever else is wanted, or let it go idle in its turn. */
  async setPinned (infoHash: string, pinned: boolean): Promise<void> {
    const active = this.active.get(infoHash)
    if (active) active.pinned = pinned
    if (!pinned) return
    const row = await this.opts.seeds.get(infoHash)
    if (row) await this.activate(row)
  }

  /** Bring a torrent the database seeds up now (a new upload's), whatever the demand rate. */
  async start (infoHash: string): Promise<void> {
    const row = await this.opts.seeds.get(infoHash)
    if (row) await this.activate(row)
  }

  /** The database no longer seeds this torrent: take it out of the client. */
  async drop (infoHash: string): Promise<void> {
    this.primed.delete(infoHash)
    this.activity.delete(infoHash)
    await this.idle(infoHash)
  }

  /** The seed's loadSeedingState: the public seeding state (from the database, the source of truth). */
  async loadSeedingState (): Promise<SeedInfo[]> {
    return await this.getAllSeeding()
  }

  /** The seed's saveSeedingState: write what was noted, then the seeder.json snapshot. */
  async saveSeedingState (): Promise<void> {
    await this.writeActivity()
    await this.snapshot.write()
  }

  /**
   * Bring up to maxActive torrents up from the database (no piece is hashed): pinned ones
   * first, then the most recently wanted. The rest stay idle until wanted.
   */
  async resumeSeeding (): Promise<{ resumed: number, failed: number }> {
    const first = await this.opts.seeds.mostWanted(this.opts.maxActive)
    let resumed = 0
    let failed = 0
    const next = first[Symbol.iterator]()
    const worker = async (): Promise<void> => {
      for (let r = next.next(); !r.done && this.client; r = next.next()) {
        if (await this.activate(r.value)) resumed++
        else if (this.client) failed++
      }
    }
    await Promise.all(Array.from({ length: RESUME_CONCURRENCY }, worker))
    return { resumed, failed }
  }

  async close (): Promise<void> {
    const client = this.client
    this.client = undefined
    clearInterval(this.writer)
    // What the active torrents sent goes to the database before they go.
    for (const [infoHash, t] of this.torrents) this.retire(infoHash, t)
    this.torrents.clear()
    for (const seed of this.active.values()) clearTimeout(seed.access?.renewal)
    this.active.clear()
    await this.resuming
    await this.writeActivity().catch(err => this.opts.log.warn({ err: (err as Error).message }, 'could not write the seeding activity'))
    await this.snapshot.stop()
    if (client) await new Promise<void>(resolve => client.destroy(() => resolve()))
  }

  /**
   * Each tracker's state as the seeder sees it: announces that got an answer, the last error,
   * and whether a WebSocket tracker is connected. An unreachable tracker only shows up here:
   * the others, and the web seed, carry on.
   */
  trackerStates (scope: StatsScope = 'all'): TrackerState[] {
    const torrents = [...this.torrents].filter(([infoHash]) => scopesOf(this.active.get(infoHash)?.kind).includes(scope)).map(([, t]) => t)
    return this.opts.catalog.announce.map(url => {
      const key = trackerKey(url)
      const state = this.trackers[scope].get(key) ?? { url: key, announces: 0 }
      const sockets = torrents.flatMap(t => trackerClient(t)?._trackers ?? []).filter(c => trackerKey(c.announceUrl) === key && 'socket' in c)
      return sockets.length > 0 ? { ...state, connected: sockets.some(c => c.socket?.connected === true) } : { ...state }
    })
  }

  /** A tracker's state in each scope the torrent counts in (every torrent counts in `all`, public ones in `public` too). */
  private trackerStatesFor (url: string, kind: SeedRow['kind']): TrackerState[] {
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
  private watchTrackers (torrent: Torrent, kind: SeedRow['kind']): void {
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

  /** The seed's SeedInfo: the magnet with today's trackers, the blob's location in the store. */
  private seedInfo (s: PublicSeed): SeedInfo {
    const { catalog } = this.opts
    return {
      mediaId: s.mediaId,
      infoHash: s.infoHash,
      magnetURI: catalog.magnet({ mediaId: s.mediaId, infoHash: s.infoHash, originalName: s.name }),
      filePath: catalog.store.location(s.mediaId),
      createdAt: new Date(s.seededAt).toISOString(),
      fileSize: s.fileSize
    }
  }

  /** Remember that a peer announced this idle torrent (a bounded set: the oldest are forgotten). */
  private prime (infoHash: string): void {
    this.primed.delete(infoHash)
    this.primed.add(infoHash)
    if (this.primed.size > MAX_PRIMED) this.primed.delete(this.primed.values().next().value!)
  }

  /** Note activity to write behind; written at once when too much is waiting. */
  private note (infoHash: string, what: { wantedAt?: number, uploaded?: number }): void {
    const had = this.activity.get(infoHash) ?? {}
    this.activity.set(infoHash, {
      ...(what.wantedAt !== undefined || had.wantedAt !== undefined ? { wantedAt: Math.max(what.wantedAt ?? 0, had.wantedAt ?? 0) } : {}),
      ...(what.uploaded || had.uploaded ? { uploaded: (had.uploaded ?? 0) + (what.uploaded ?? 0) } : {})
    })
    if (this.activity.size >= MAX_PENDING_ACTIVITY) void this.writeActivity()
  }

  /** Bytes of an active torrent already written to its row (its torrent's count includes them). */
  private written (infoHash: string): number {
    return this.writtenUploads.get(infoHash) ?? 0
  }

  /** Write the noted wanted times and bytes sent (one at a time; errors are logged, the notes kept for the next try). */
  private async writeActivity (): Promise<void> {
    const run = async (): Promise<void> => {
      for (const [infoHash, t] of this.torrents) {
        const sent = t.uploaded - this.written(infoHash)
        if (sent > 0) {
          this.writtenUploads.set(infoHash, t.uploaded)
          this.note(infoHash, { uploaded: sent })
        }
      }
      if (this.activity.size === 0) return
      const batch = [...this.activity].map(([infoHash, a]) => ({ infoHash, ...a }))
      this.activity.clear()
      try {
        await this.opts.seeds.record(batch)
      } catch (err) {
        for (const a of batch) this.note(a.infoHash, a)
        this.opts.log.warn({ err: (err as Error).message }, 'could not write the seeding activity; trying again')
      }
    }
    this.writing = this.writing.then(run, run)
    await this.writing
  }

  /** Bring a seed into the client unless it is there (one attempt at a time); true when active. */
  private async activate (row: SeedRow): Promise<boolean> {
    if (!this.client) return false
    if (this.torrents.has(row.infoHash)) return true
    let pending = this.activating.get(row.infoHash)
    if (!pending) {
      pending = this.bringUp(row).finally(() => this.activating.delete(row.infoHash))
      this.activating.set(row.infoHash, pending)
    }
    return await pending
  }

  private async bringUp (row: SeedRow): Promise<boolean> {
    const { log, source } = this.opts
    const seed: ActiveSeed = { mediaId: row.mediaId, infoHash: row.infoHash, kind: row.kind, pinned: row.pinned, rankedAt: row.rankedAt, prime: this.primed.delete(row.infoHash) }
    this.active.set(row.infoHash, seed)
    try {
      if (row.kind === 'private') {
        const access = await source.privateAccess(row)
        if (!access) throw new Error('its record is gone')
        seed.access = access
        await this.renewToken(seed, access)
      }
      const torrent = await this.add(seed, await source.torrentFile(row))
      if (this.active.get(row.infoHash) !== seed || !this.client) {
        // Dropped while it was coming up.
        await this.idle(row.infoHash)
        return false
      }
      // A peer announced after this torrent's first announce had left without asking for
      // peers: announce again, asking, so our offer reaches it.
      if (seed.prime) trackerClient(torrent)?.update()
      this.makeRoom(row.infoHash)
      return true
    } catch (err) {
      if (this.active.get(row.infoHash) === seed && !this.torrents.has(row.infoHash)) this.active.delete(row.infoHash)
      clearTimeout(seed.access?.renewal)
      log.warn({ mediaId: row.mediaId, err: (err as Error).message }, 'could not start seeding a torrent')
      return false
    }
  }

  /** Idle the least recently wanted torrents (pinned ones last) until at most maxActive are active. */
  private makeRoom (keep: string): void {
    while (this.torrents.size > this.opts.maxActive) {
      let victim: ActiveSeed | undefined
      for (const infoHash of this.torrents.keys()) {
        const seed = this.active.get(infoHash)
        if (!seed || infoHash === keep) continue
        if (!victim || byWant(seed, victim) < 0) victim = seed
      }
      if (!victim) return
      if (victim.pinned) this.opts.log.warn({ maxActive: this.opts.maxActive }, 'more pinned torrents than SEED_MAX_ACTIVE: a pinned one goes idle')
      void this.idle(victim.infoHash)
    }
  }

  /** What an active torrent sent goes to the totals and its row's pending bytes. */
  private retire (infoHash: string, t: Torrent): void {
    const sent = t.uploaded - this.written(infoHash)
    if (sent > 0 && this.active.has(infoHash)) this.note(infoHash, { uploaded: sent })
    this.writtenUploads.delete(infoHash)
    for (const scope of scopesOf(this.active.get(infoHash)?.kind)) {
      this.retired[scope].uploaded += t.uploaded
      this.retired[scope].downloaded += t.received
    }
  }

  /** Take a torrent out of the client (the bytes stay); what it sent is written behind. */
  private async idle (infoHash: string): Promise<void> {
    const seed = this.active.get(infoHash)
    clearTimeout(seed?.access?.renewal)
    const t = this.torrents.get(infoHash)
    if (t) this.retire(infoHash, t)
    this.torrents.delete(infoHash)
    this.active.delete(infoHash)
    if (t) await new Promise<void>(resolve => t.destroy({ destroyStore: false }, () => resolve()))
  }

  /** Add a torrent over a stored blob's bytes, taken as complete. */
  private async add (seed: ActiveSeed, torrentFile: Uint8Array): Promise<Torrent> {
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
    return torrent
  }

  /**
   * Give a private torrent a fresh tracker capability, and renew it at its half-life while the
   * torrent stays active, announcing at once with the new one (so a refused announce shows in
   * the tracker stats now, not an interval later).
   */
  private async renewToken (seed: ActiveSeed, access: PrivateAccess): Promise<void> {
    const { token, expiresAt } = await access.trackerToken()
    access.token = token
    clearTimeout(access.renewal)
    access.renewal = setTimeout(() => {
      const torrent = this.torrents.get(seed.infoHash)
      if (!torrent || this.active.get(seed.infoHash) !== seed) return
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

/** Least wanted first: unpinned before pinned, then by when last wanted (or else seeded). */
const byWant = (a: ActiveSeed, b: ActiveSeed): number => Number(a.pinned) - Number(b.pinned) || a.rankedAt - b.rankedAt

/** Every public seed, a page at a time. */
async function * allPublicSeeds (seeds: SeedRepository): AsyncIterable<PublicSeed> {
  for (let after = ''; ;) {
    const page = await seeds.publicSeeds({ limit: PAGE, after })
    yield * page
    if (page.length < PAGE) return
    after = page[page.length - 1]!.infoHash
  }
}

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
