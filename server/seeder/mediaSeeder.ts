/**
 * The seed's MediaSeeder: one WebTorrent client that seeds every stored file over TCP (any
 * BitTorrent client) and WebRTC (browsers), and resumes after a restart from the stored
 * .torrent files without hashing a piece again.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import type { SeedInfo, SeederStats } from '../../shared/media.ts'
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import bencode from 'bencode'
import { infoHashOf, withTransport } from '../../shared/torrent.ts'
import { sha1 } from '../upload/nodeHashers.ts'
import type { Logger } from '../logger.ts'
import type { Catalog } from '../media/catalog.ts'
import { fileByteSource } from '../storage/fileByteSource.ts'
import { replaceFile } from '../storage/fsBlobStore.ts'

export interface MediaSeederOptions {
  catalog: Catalog
  /** MEDIA_DIR/seeder.json */
  stateFile: string
  torrentPort: number
  log: Logger
  /** ICE servers for WebRTC peers; none are needed on a LAN or for a server with a public address. */
  rtcConfig?: RTCConfiguration
  /** Bytes/s to and from peers; undefined = unlimited. Changeable with setLimits. */
  limits?: SeedLimits
  /** false: keep the seeding state but open no BitTorrent connections (SEEDING=false). */
  enabled?: boolean
  /** Which stored blobs to seed when seeder.json has to be rebuilt from the folders. */
  isSeedable?: (mediaId: string) => Promise<boolean>
}

interface SeedingState {
  version: 1
  seeding: SeedInfo[]
}

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

export interface SeedLimits {
  upload?: number
  download?: number
}

export interface TorrentStatus {
  seeding: boolean
  /** Share of pieces the seeder offers (1 when it serves the whole file). */
  progress: number
  peers: number
  uploaded: number
  /** When someone last asked for the file: its .torrent, its bytes, or its swarm at the tracker. */
  lastWanted: string | null
  /** The seeder's BitTorrent peer id (hex), so a browser can tell the server's peer from other browsers. */
  peerId: string | null
}

export class MediaSeeder {
  private readonly opts: MediaSeederOptions
  private client: WebTorrent | undefined
  /** Public seeds by mediaId: the seed's seeding state. */
  private readonly seeding = new Map<string, SeedInfo>()
  /** Private records' torrents (rebuilt from the records at start, not kept in seeder.json): infoHash → mediaId. */
  private readonly privateSeeds = new Map<string, string>()
  /** Every torrent in the client, by infoHash. */
  private readonly torrents = new Map<string, Torrent>()
  private saving: Promise<void> = Promise.resolve()
  private readonly trackers = new Map<string, TrackerState>()
  /** mediaId → when it was last wanted (ms). */
  private readonly wanted = new Map<string, number>()
  /** Bytes sent to peers since start, by transport (for /metrics). */
  readonly uploadedByTransport = { tcp: 0, webrtc: 0 }

  private limits: SeedLimits

  constructor (opts: MediaSeederOptions) {
    this.opts = opts
    this.limits = { ...opts.limits }
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

  /** Start the client, then resume everything in seeder.json. false when it could not start. */
  async initialize (): Promise<boolean> {
    const { log } = this.opts
    if (this.opts.enabled === false) {
      for (const info of await this.loadSeedingState()) this.seeding.set(info.mediaId, info)
      log.warn('SEEDING=false: files are stored, tracked and served over HTTP, but not seeded over BitTorrent')
      return true
    }
    try {
      const client = new WebTorrent({
        torrentPort: this.opts.torrentPort,
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
      this.client = client
      await new Promise<void>((resolve, reject) => {
        if (client.listening) return resolve()
        client.once('listening', resolve)
        client.once('error', reject)
      })
      log.info({ mediaDir: path.dirname(this.opts.stateFile), trackers: this.opts.catalog.announce, torrentPort: client.torrentPort }, 'MediaSeeder initialized')
      const state = await this.loadSeedingState()
      for (const info of state) this.seeding.set(info.mediaId, info)
      const { resumed, failed } = await this.resumeSeeding()
      log.info({ resumed, failed }, `resumed seeding: ${resumed} files, ${failed} failed`)
      return true
    } catch (err) {
      log.error({ err: (err as Error).message }, 'MediaSeeder failed to start; serving goes on without P2P')
      return false
    }
  }

  /** Seed a stored blob. `filePath` must be where the store keeps it (no seeding of other paths). */
  async seedFile (filePath: string, mediaId: string): Promise<SeedInfo> {
    const { catalog } = this.opts
    const stored = catalog.store.originalPath(mediaId)
    if (path.resolve(filePath) !== stored) throw new Error(`seedFile: ${filePath} is not the stored file of ${mediaId}`)
    const info = await this.addTorrent(mediaId)
    this.seeding.set(mediaId, info)
    await this.saveSeedingState()
    return info
  }

  getSeedingInfo (mediaId: string): SeedInfo | undefined {
    return this.seeding.get(mediaId)
  }

  getAllSeeding (): SeedInfo[] {
    return [...this.seeding.values()]
  }

  getStats (): SeederStats {
    let totalUploaded = 0
    let totalDownloaded = 0
    let peers = 0
    for (const t of this.torrents.values()) {
      totalUploaded += t.uploaded
      totalDownloaded += t.received
      peers += t.numPeers
    }
    return { seedingCount: this.seeding.size + this.privateSeeds.size, activeTorrents: this.torrents.size, totalUploaded, totalDownloaded, peers }
  }

  /** Public files by bytes sent to peers, most first (private torrents are never listed). */
  async topFiles (n: number): Promise<Array<{ mediaId: string, name: string, infoHash: string, uploaded: number, peers: number }>> {
    const top = [...this.seeding.values()]
      .map(info => ({ mediaId: info.mediaId, infoHash: info.infoHash, uploaded: this.torrents.get(info.infoHash)?.uploaded ?? 0, peers: this.torrents.get(info.infoHash)?.numPeers ?? 0 }))
      .sort((a, b) => b.uploaded - a.uploaded)
      .slice(0, n)
    return await Promise.all(top.map(async t => ({ ...t, name: (await this.opts.catalog.manifest(t.mediaId).catch(() => undefined))?.originalName ?? '' })))
  }

  /** Note that someone wants this file now (the groundwork of seeding only what is wanted). */
  markWanted (mediaId: string): void {
    this.wanted.set(mediaId, Date.now())
  }

  /** Live status of one torrent of a file, for /api/media/:id/info. */
  status (infoHash: string, mediaId?: string): TorrentStatus {
    const t = this.torrents.get(infoHash)
    const wanted = mediaId === undefined ? undefined : this.wanted.get(mediaId)
    return {
      seeding: t !== undefined,
      progress: t?.progress ?? 0,
      peers: t?.numPeers ?? 0,
      uploaded: t?.uploaded ?? 0,
      lastWanted: wanted === undefined ? null : new Date(wanted).toISOString(),
      peerId: this.client?.peerId ?? null
    }
  }

  /** Seed a private record's torrent (announced with the seeder's own tracker capability). */
  async seedPrivate (mediaId: string, torrentFile: Uint8Array): Promise<string> {
    const infoHash = await this.add(mediaId, torrentFile)
    this.privateSeeds.set(infoHash, mediaId)
    return infoHash
  }

  async stopPrivate (infoHash: string): Promise<void> {
    if (this.privateSeeds.delete(infoHash)) await this.drop(infoHash)
  }

  /** seeder.json, or — when it is missing or damaged — the state rebuilt from the media folders. */
  async loadSeedingState (): Promise<SeedInfo[]> {
    const { log } = this.opts
    let text: string
    try {
      text = await fs.readFile(this.opts.stateFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: (err as Error).message }, 'seeder.json unreadable')
      return await this.rebuildState('seeder.json is missing')
    }
    try {
      const state = JSON.parse(text) as SeedingState
      if (state.version !== 1 || !Array.isArray(state.seeding)) throw new Error('unknown format')
      return state.seeding.filter(s => typeof s?.mediaId === 'string')
    } catch (err) {
      return await this.rebuildState(`seeder.json is damaged (${(err as Error).message})`)
    }
  }

  private async rebuildState (reason: string): Promise<SeedInfo[]> {
    const { log, catalog, isSeedable } = this.opts
    const rebuilt: SeedInfo[] = []
    for await (const mediaId of catalog.store.list()) {
      if (isSeedable && !await isSeedable(mediaId)) continue
      try {
        const m = await catalog.manifest(mediaId)
        rebuilt.push({ mediaId, infoHash: m.infoHash, magnetURI: m.magnetURI, filePath: catalog.store.originalPath(mediaId), createdAt: m.createdAt, fileSize: m.fileSize })
      } catch (err) {
        log.warn({ mediaId, err: (err as Error).message }, 'skipping a media folder that cannot be read')
      }
    }
    log.warn({ files: rebuilt.length }, `${reason}; rebuilt seeding state from the media folders`)
    return rebuilt
  }

  /** Write seeder.json atomically (temp file, fsync, rename); writes are queued, never interleaved. */
  async saveSeedingState (): Promise<void> {
    const write = async (): Promise<void> => {
      const state: SeedingState = { version: 1, seeding: this.getAllSeeding() }
      await replaceFile(this.opts.stateFile, JSON.stringify(state, null, 2))
    }
    this.saving = this.saving.then(write, write)
    await this.saving
  }

  /** Add every file in the state to the client from its stored .torrent (no piece is re-hashed). */
  async resumeSeeding (): Promise<{ resumed: number, failed: number }> {
    let resumed = 0
    let failed = 0
    for (const mediaId of [...this.seeding.keys()]) {
      try {
        this.seeding.set(mediaId, await this.addTorrent(mediaId))
        resumed++
      } catch (err) {
        failed++
        this.seeding.delete(mediaId)
        this.opts.log.warn({ mediaId, err: (err as Error).message }, 'could not resume seeding')
      }
    }
    await this.saveSeedingState()
    return { resumed, failed }
  }

  async stopSeeding (mediaId: string): Promise<void> {
    const info = this.seeding.get(mediaId)
    if (!info) return
    this.seeding.delete(mediaId)
    await this.drop(info.infoHash)
    await this.saveSeedingState()
  }

  private async drop (infoHash: string): Promise<void> {
    const t = this.torrents.get(infoHash)
    this.torrents.delete(infoHash)
    if (t) await new Promise<void>(resolve => t.destroy({ destroyStore: false }, () => resolve()))
  }

  async close (): Promise<void> {
    const client = this.client
    this.client = undefined
    this.torrents.clear()
    await this.saving.catch(() => {})
    if (client) await new Promise<void>(resolve => client.destroy(() => resolve()))
  }

  /** Seed a stored blob's public torrent (from its stored .torrent; no piece is hashed). */
  private async addTorrent (mediaId: string): Promise<SeedInfo> {
    const { catalog } = this.opts
    const manifest = await catalog.manifest(mediaId)
    // The server is its own web seed; announcing it to itself would only make noise.
    await this.add(mediaId, withTransport(await catalog.torrent(mediaId), { announce: catalog.announce, urlList: [] }))
    return {
      mediaId,
      infoHash: manifest.infoHash,
      magnetURI: catalog.magnet(manifest),
      filePath: catalog.store.originalPath(mediaId),
      createdAt: manifest.createdAt,
      fileSize: manifest.fileSize
    }
  }

  /**
   * Each tracker's state as the seeder sees it: announces that got an answer, the last error,
   * and whether a WebSocket tracker is connected. An unreachable tracker only shows up here:
   * the others, and the web seed, carry on.
   */
  trackerStates (): TrackerState[] {
    return this.opts.catalog.announce.map(url => {
      const key = trackerKey(url)
      const state = this.trackers.get(key) ?? { url: key, announces: 0 }
      const sockets = [...this.torrents.values()].flatMap(t => trackerClients(t)).filter(c => trackerKey(c.announceUrl) === key && 'socket' in c)
      return sockets.length > 0 ? { ...state, connected: sockets.some(c => c.socket?.connected === true) } : { ...state }
    })
  }

  private watchTrackers (torrent: Torrent): void {
    const client = (torrent as unknown as { discovery?: { tracker?: NodeJS.EventEmitter } }).discovery?.tracker
    if (!client) return
    const state = (url: string): TrackerState => {
      const key = trackerKey(url)
      let s = this.trackers.get(key)
      if (!s) this.trackers.set(key, s = { url: key, announces: 0 })
      return s
    }
    client.on('update', (data: { announce: string }) => {
      const s = state(data.announce)
      s.announces++
      s.lastAnnounceAt = new Date().toISOString()
    })
    client.on('warning', (err: Error) => {
      // Messages name their tracker when they can; those that do not cannot be placed.
      const url = trackerClients(torrent).map(c => c.announceUrl).find(u => err.message.includes(trackerKey(u)))
      if (!url) return
      const s = state(url)
      s.lastError = err.message.replace(/\?token=[^\s)]+/g, '')
      s.lastErrorAt = new Date().toISOString()
    })
  }

  /** Add a torrent over a stored blob's bytes, taken as complete; its infoHash. */
  private async add (mediaId: string, torrentFile: Uint8Array): Promise<string> {
    const { catalog, log } = this.opts
    if (this.opts.enabled === false) return infoHashOfFile(torrentFile)
    const client = this.client
    if (!client) throw new Error('MediaSeeder is not initialized')
    const file = catalog.store.originalPath(mediaId)
    const torrent = await new Promise<Torrent>((resolve, reject) => {
      const existing = this.torrents.get(infoHashOfFile(torrentFile))
      if (existing) return resolve(existing)
      const t = client.add(torrentFile, {
        path: path.dirname(file),
        store: ReadOnlyChunkStore.over(fileByteSource(file)),
        skipVerify: true
      })
      t.once('ready', () => resolve(t))
      t.once('error', reject)
    })
    if (!this.torrents.has(torrent.infoHash)) {
      torrent.on('error', (err: Error) => log.error({ mediaId, err: err.message }, 'torrent error'))
      torrent.on('warning', (err: Error) => log.debug({ mediaId, err: err.message }, 'torrent warning'))
      this.watchTrackers(torrent)
      torrent.on('wire', (wire: Wire) => {
        const transport = wire.type === 'webrtc' ? 'webrtc' : wire.type.startsWith('tcp') ? 'tcp' : undefined
        if (transport) wire.on('upload', (bytes: number) => { this.uploadedByTransport[transport] += bytes })
      })
      this.torrents.set(torrent.infoHash, torrent)
    }
    return torrent.infoHash
  }
}

interface TrackerClient { announceUrl: string, socket?: { connected?: boolean } | null }

/** The tracker connections of a torrent (bittorrent-tracker's client keeps them in _trackers). */
function trackerClients (torrent: Torrent): TrackerClient[] {
  return (torrent as unknown as { discovery?: { tracker?: { _trackers?: TrackerClient[] } } }).discovery?.tracker?._trackers ?? []
}

/** The infoHash of a .torrent file, without a client. */
function infoHashOfFile (torrentFile: Uint8Array): string {
  const info = (bencode.decode(torrentFile) as { info: Record<string, unknown> }).info
  return infoHashOf(info, sha1)
}
