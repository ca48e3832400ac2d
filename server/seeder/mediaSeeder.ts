/**
 * The seed's MediaSeeder: seeds stored files over TCP (any BitTorrent client) and WebRTC
 * (browsers), and resumes after a restart from the database without hashing a piece again.
 * This is its API; the parts are the client (seedingClient), the active torrents and demand
 * (activeTorrents), the write-behind of wanted times and bytes sent (seedingActivity), each
 * tracker's state (trackerStats), private torrents' gate (privateGate) and the seeder.json
 * snapshot (seedingSnapshot).
 */
import path from 'node:path'
import type { SeedInfo, SeederStats, SeedingState } from '../../shared/media.ts'
import type { PublicSeed, SeedRepository } from '../catalog/seedRepository.ts'
import type { SeederJsonMark } from '../catalog/seederJsonMark.ts'
import type { Logger } from '../logger.ts'
import type { Catalog } from '../media/catalog.ts'
import { ActiveTorrents, type SeedSource } from './activeTorrents.ts'
import { type SeedChange, type SeedPlacement, SOLE_PLACEMENT } from './seedPlacement.ts'
import { SeedingActivity } from './seedingActivity.ts'
import { SeedingClient, type SeedLimits } from './seedingClient.ts'
import { SeedingSnapshot } from './seedingSnapshot.ts'
import { ServedBytes } from './servedBytes.ts'
import type { StatsScope } from './statsScope.ts'
import { TrackerStats, type TrackerState } from './trackerStats.ts'

export type { SeedSource } from './activeTorrents.ts'
export type { TrackerToken } from './privateGate.ts'
export type { SeedLimits } from './seedingClient.ts'
export type { StatsScope } from './statsScope.ts'
export type { TrackerState } from './trackerStats.ts'

export interface MediaSeederOptions {
  catalog: Catalog
  /** The seeding state in the database: which torrents are seeded, pinned, last wanted. */
  seeds: SeedRepository
  /** Builds what a seeded torrent needs when it comes up. */
  source: SeedSource
  /** MEDIA_DIR/seeder.json: the seed's file, now a snapshot of the public seeding state. */
  stateFile: string
  /** Whether the database changed since seeder.json was written. */
  stateFileMark: SeederJsonMark
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
  /** Which torrents this node seeds, when nodes share the catalogue; all of them when left out. */
  placement?: SeedPlacement
  /** Nodes share the catalogue: does this one write seeder.json (it leads)? Always, when left out. */
  writesSnapshot?: () => boolean
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

/** What a scope's torrents moved since start and have now. */
export interface LiveTotals {
  sent: number
  received: number
  peers: number
  activeTorrents: number
}

/** Pages of this many rows when walking the public seeds (getAllSeeding, the snapshot). */
const PAGE = 1000
/** Demand for a torrent another node seeds is told to it at most this often (bytes are asked for many times a second). */
const TELL_WANTED_EVERY_MS = 1000
/** Torrents whose last telling is remembered for that. */
const MAX_TOLD = 10_000

export class MediaSeeder {
  /** Bytes of stored files sent since start, by source, per torrent (HTTP too: the routes count it here). */
  readonly served = new ServedBytes()
  readonly snapshot: SeedingSnapshot
  private readonly opts: MediaSeederOptions
  private client: SeedingClient | undefined
  private readonly torrents: ActiveTorrents
  private readonly activity: SeedingActivity
  private readonly trackerStats = new TrackerStats()
  private resuming: Promise<unknown> = Promise.resolve()
  private limits: SeedLimits
  private readonly placement: SeedPlacement
  /** When demand for a torrent another node seeds was last told, by infoHash. */
  private readonly toldWanted = new Map<string, number>()

  constructor (opts: MediaSeederOptions) {
    this.opts = opts
    this.placement = opts.placement ?? SOLE_PLACEMENT
    this.limits = { ...opts.limits }
    this.activity = new SeedingActivity({ seeds: opts.seeds, sentByActive: () => this.torrents.sent(), log: opts.log })
    this.torrents = new ActiveTorrents({
      client: () => this.client,
      seeds: opts.seeds,
      source: opts.source,
      activity: this.activity,
      trackerStats: this.trackerStats,
      served: this.served,
      log: opts.log,
      maxActive: opts.maxActive,
      ...(opts.activationsPerMinute !== undefined ? { activationsPerMinute: opts.activationsPerMinute } : {})
    })
    this.snapshot = new SeedingSnapshot({ file: opts.stateFile, mark: opts.stateFileMark, seeds: async function * () { yield * allPublicSeeds(opts.seeds) }, publicSeeds: async () => await opts.seeds.count('public'), log: opts.log, ...(opts.writesSnapshot ? { writer: opts.writesSnapshot } : {}) })
  }

  get seedLimits (): SeedLimits {
    return { ...this.limits }
  }

  /** Change the bandwidth limits now, for every torrent (undefined = unlimited). */
  setLimits (limits: SeedLimits): void {
    this.limits = { ...limits }
    this.client?.setLimits(limits)
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

  /** Bytes sent to peers since start, by transport (for /metrics). */
  get uploadedByTransport (): { tcp: number, webrtc: number } {
    const { tcp, webrtc } = this.served.totals.all
    return { tcp, webrtc }
  }

  /** Idle torrents that demand brought up, and those it found idle past the rate and left so (for /metrics). */
  get demand (): { activated: number, deferred: number } {
    return this.torrents.demand
  }

  /**
   * Start the client and start resuming: the maxActive most wanted torrents come up in the
   * background (whenResumed), while any torrent wanted meanwhile comes up at once. Nothing is
   * read per stored file. false when the client could not start.
   */
  async initialize (): Promise<boolean> {
    const { log } = this.opts
    this.activity.start(this.opts.writeBehindMs ?? 2000)
    await this.snapshot.start()
    if (this.opts.enabled === false) {
      log.warn('SEEDING=false: files are stored, tracked and served over HTTP, but not seeded over BitTorrent')
      return true
    }
    try {
      const { catalog, torrentPort, host, rtcConfig } = this.opts
      this.client = await SeedingClient.start({ store: catalog.store, torrentPort, host, ...(rtcConfig ? { rtcConfig } : {}), limits: this.limits, log })
      log.info({ mediaDir: path.dirname(this.opts.stateFile), trackers: catalog.announce, torrentPort: this.client.torrentPort, maxActive: this.opts.maxActive }, 'MediaSeeder initialized')
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
    await this.start(seed.infoHash)
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
    const { uploaded, downloaded, peers, activeTorrents } = this.torrents.totals(scope)
    const seedingCount = await this.opts.seeds.count(scope === 'public' ? 'public' : undefined)
    return { seedingCount, activeTorrents, totalUploaded: uploaded, totalDownloaded: downloaded, peers }
  }

  /**
   * What the torrents of a scope moved since start (bytes of stored files sent over HTTP and to
   * peers, bytes received) and have now, from memory alone: the dashboard's history samples it.
   */
  liveTotals (scope: StatsScope): LiveTotals {
    const { downloaded, peers, activeTorrents } = this.torrents.totals(scope)
    const sent = Object.values(this.served.totals[scope]).reduce((sum, bytes) => sum + bytes, 0)
    return { sent, received: downloaded, peers, activeTorrents }
  }

  /** Public files by bytes sent to peers, most first (private torrents are never listed). */
  async topFiles (n: number): Promise<Array<{ mediaId: string, name: string, infoHash: string, uploaded: number, peers: number }>> {
    await this.activity.write()
    const top = await this.opts.seeds.topUploaded(n)
    return await Promise.all(top.map(async seed => ({
      mediaId: seed.mediaId,
      infoHash: seed.infoHash,
      uploaded: seed.uploaded + (this.torrents.torrent(seed.infoHash)?.uploaded ?? 0) - this.activity.written(seed.infoHash),
      peers: this.torrents.torrent(seed.infoHash)?.numPeers ?? 0,
      name: (await this.opts.catalog.manifest(seed.mediaId).catch(() => undefined))?.originalName ?? ''
    })))
  }

  /**
   * Someone wants this torrent now: note it, and bring it up if it is idle and the minute's
   * activations allow (resolves once it is active, or at once when it stays idle).
   * `announced`: a peer announced it at the tracker and waits in the swarm.
   */
  async want (infoHash: string, opts: { announced?: boolean } = {}): Promise<void> {
    if (this.placement.mine(infoHash)) return await this.torrents.want(infoHash, opts)
    const now = Date.now()
    if (!opts.announced && now - (this.toldWanted.get(infoHash) ?? 0) < TELL_WANTED_EVERY_MS) return
    if (this.toldWanted.size >= MAX_TOLD) this.toldWanted.clear()
    this.toldWanted.set(infoHash, now)
    this.placement.tell({ kind: 'want', infoHash, announced: opts.announced === true })
  }

  /** Live status of one torrent, for /api/media/:id/info. */
  async status (infoHash: string): Promise<TorrentStatus> {
    const row = await this.opts.seeds.get(infoHash)
    const t = this.torrents.torrent(infoHash)
    const unwritten = this.activity.unwritten(infoHash)
    const wantedAt = Math.max(row?.wantedAt ?? 0, unwritten?.wantedAt ?? 0)
    return {
      seeding: row !== undefined && this.opts.enabled !== false,
      state: t ? 'active' : 'idle',
      progress: t?.progress ?? 0,
      peers: t?.numPeers ?? 0,
      uploaded: (row?.uploaded ?? 0) + (t?.uploaded ?? 0) - this.activity.written(infoHash) + (unwritten?.uploaded ?? 0),
      lastWanted: row && wantedAt > 0 ? new Date(wantedAt).toISOString() : null,
      peerId: this.client?.peerId ?? null
    }
  }

  /** A torrent's state from the seeder's memory alone; `seeded`: the database has its seed (listings read it with their page). */
  seedingState (infoHash: string, seeded: boolean): SeedingState {
    if (!seeded || this.opts.enabled === false) return 'off'
    return this.torrents.torrent(infoHash) ? 'active' : 'idle'
  }

  /** The database says this torrent is pinned now (or not): keep it active whatever else is wanted, or let it go idle in its turn. */
  async setPinned (infoHash: string, pinned: boolean): Promise<void> {
    if (this.placement.mine(infoHash)) await this.torrents.setPinned(infoHash, pinned)
    else this.placement.tell({ kind: 'pin', infoHash, pinned })
  }

  /** Bring a torrent the database seeds up now (a new upload's), whatever the demand rate. */
  async start (infoHash: string): Promise<void> {
    if (this.placement.mine(infoHash)) await this.torrents.start(infoHash)
    else this.placement.tell({ kind: 'start', infoHash })
  }

  /** The database no longer seeds this torrent: take it out of the client, here and on the node that seeds it. */
  async drop (infoHash: string): Promise<void> {
    this.placement.tell({ kind: 'drop', infoHash })
    await this.dropHere(infoHash)
  }

  /** What another node told about a torrent: acted on when this node seeds it (a drop, always). */
  async fromNode (change: SeedChange): Promise<void> {
    const { infoHash } = change
    if (change.kind === 'drop') return await this.dropHere(infoHash)
    if (!this.placement.mine(infoHash)) return
    if (change.kind === 'want') await this.torrents.want(infoHash, { announced: change.announced })
    else if (change.kind === 'start') await this.torrents.start(infoHash)
    else await this.torrents.setPinned(infoHash, change.pinned)
  }

  /**
   * The live nodes changed, or this node may have missed what others told it: the torrents
   * another node seeds now go idle here, and this node's most wanted come up. Those given up
   * are handed over: the node they belong to may have joined before this node saw it, and
   * seeded them nowhere meanwhile (it brought up its share when it started, from the database).
   */
  async rebalance (): Promise<void> {
    if (!this.client) return
    for (const infoHash of await this.torrents.idleUnless(h => this.placement.mine(h))) this.placement.tell({ kind: 'start', infoHash })
    await this.resumeSeeding()
  }

  /** The tracker moved to another node: every active torrent announces there now. */
  reannounce (): void {
    this.torrents.reannounce()
  }

  private async dropHere (infoHash: string): Promise<void> {
    await this.torrents.drop(infoHash)
    this.served.forget(infoHash)
  }

  /** Peers left a private torrent's swarm: close the connections to those no longer admitted, now. */
  async closeUnadmitted (infoHash: string): Promise<void> {
    await this.torrents.closeUnadmitted(infoHash)
  }

  /** The seed's loadSeedingState: the public seeding state (from the database, the source of truth). */
  async loadSeedingState (): Promise<SeedInfo[]> {
    return await this.getAllSeeding()
  }

  /** The seed's saveSeedingState: write what was noted, then the seeder.json snapshot. */
  async saveSeedingState (): Promise<void> {
    await this.activity.write()
    await this.snapshot.write()
  }

  /**
   * Bring up to maxActive torrents up from the database (no piece is hashed): pinned ones
   * first, then the most recently wanted. The rest stay idle until wanted.
   */
  async resumeSeeding (): Promise<{ resumed: number, failed: number }> {
    return await this.torrents.resume(infoHash => this.placement.mine(infoHash), this.placement.nodes)
  }

  async close (): Promise<void> {
    const client = this.client
    this.client = undefined
    this.activity.stop()
    // What the active torrents sent goes to the database before they go.
    this.torrents.close()
    await this.resuming
    await this.activity.write().catch(err => this.opts.log.warn({ err: (err as Error).message }, 'could not write the seeding activity'))
    // The database may be gone at this point: what cannot be written is logged, and the stop goes on.
    await this.snapshot.stop().catch(err => this.opts.log.warn({ err: (err as Error).message }, 'could not write seeder.json at shutdown'))
    await client?.destroy()
  }

  /**
   * Each tracker's state as the seeder sees it: announces that got an answer, the last error,
   * and whether a WebSocket tracker is connected. An unreachable tracker only shows up here:
   * the others, and the web seed, carry on.
   */
  trackerStates (scope: StatsScope = 'all'): TrackerState[] {
    return this.trackerStats.states(this.opts.catalog.announce, scope, this.torrents.inScope(scope))
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
}

/** Every public seed, a page at a time. */
async function * allPublicSeeds (seeds: SeedRepository): AsyncIterable<PublicSeed> {
  for (let after = ''; ;) {
    const page = await seeds.publicSeeds({ limit: PAGE, after })
    yield * page
    if (page.length < PAGE) return
    after = page[page.length - 1]!.infoHash
  }
}
