/**
 * The WebTorrent client that seeds: TCP (any BitTorrent client) and WebRTC (browsers), on HOST
 * only, with no DHT or LSD, over the blob store's bytes taken as complete (no piece is hashed
 * again).
 */
import net from 'node:net'
import WebSocketTracker from 'bittorrent-tracker/websocket-tracker'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import type { Logger } from '../logger.ts'
import type { BlobStore } from '../storage/blobStore.ts'

export interface SeedLimits {
  upload?: number
  download?: number
}

export interface SeedingClientOptions {
  store: BlobStore
  torrentPort: number
  /** The interface BitTorrent peers may connect on (HOST). */
  host: string
  /** ICE servers for WebRTC peers; none are needed on a LAN or for a server with a public address. */
  rtcConfig?: RTCConfiguration
  limits: SeedLimits
  log: Logger
}

/** What the caller adds to a torrent it seeds. */
export interface SeedHooks {
  /** Options each announce carries (asked at every announce). */
  announceOpts: () => Record<string, unknown>
  /** Sees every wire before anything else can: peers may connect as soon as the torrent is added. */
  onWire?: (torrent: Torrent, wire: Wire) => void
  /** Discovery has started, but no tracker has answered yet. */
  onReady: (torrent: Torrent) => void
  /** Bytes of the torrent sent to a peer over TCP or WebRTC. */
  onUpload: (transport: 'tcp' | 'webrtc', bytes: number) => void
}

export class SeedingClient {
  private readonly client: WebTorrent
  private readonly opts: SeedingClientOptions

  private constructor (client: WebTorrent, opts: SeedingClientOptions) {
    this.client = client
    this.opts = opts
  }

  /** Start the client and wait until its BitTorrent port listens on HOST; throws when it cannot. */
  static async start (opts: SeedingClientOptions): Promise<SeedingClient> {
    const client = new WebTorrent({
      // WebTorrent has no option for the interface, but its connection pool hands torrentPort
      // to net.Server.listen as is, which takes { port, host } too (checked below).
      torrentPort: { port: opts.torrentPort, host: opts.host },
      // Our own tracker finds peers; DHT and LSD would leak infoHashes and need the internet.
      dht: false,
      lsd: false,
      utp: false,
      natUpnp: false,
      natPmp: false,
      uploadLimit: opts.limits.upload ?? -1,
      downloadLimit: opts.limits.download ?? -1,
      tracker: {
        rtcConfig: opts.rtcConfig ?? { iceServers: [] },
        // A seeder never needs to start connections: leechers send the WebRTC offers. Offers
        // from both sides at once cross, and both peers drop the half the other kept
        // (webtorrent#401), leaving a browser without the server for a whole announce interval.
        getAnnounceOpts: () => ({ numwant: 0 })
      }
    })
    client.on('error', (err: Error) => opts.log.error({ err: err.message }, 'webtorrent client error'))
    await new Promise<void>((resolve, reject) => {
      if (client.listening) return resolve()
      client.once('listening', resolve)
      client.once('error', reject)
    })
    const bound = client.address()?.address
    if (net.isIP(opts.host) && bound !== opts.host) {
      client.destroy()
      throw new Error(`the BitTorrent port listens on ${bound ?? 'nothing'}, not on HOST ${opts.host}`)
    }
    return new SeedingClient(client, opts)
  }

  /** The client's peer id (hex), to tell its own announces from others'. */
  get peerId (): string {
    return this.client.peerId
  }

  get torrentPort (): number {
    return this.client.torrentPort
  }

  /** Change the bandwidth limits now, for every torrent (undefined = unlimited). */
  setLimits (limits: SeedLimits): void {
    this.client.throttleUpload(limits.upload ?? -1)
    this.client.throttleDownload(limits.download ?? -1)
  }

  /** Add a torrent over a stored blob's bytes, taken as complete; resolves once it is ready. */
  async add (mediaId: string, torrentFile: Uint8Array, hooks: SeedHooks): Promise<Torrent> {
    const { log, store } = this.opts
    // Every torrent listens on the one pooled WebSocket of each tracker (bittorrent-tracker#288):
    // hundreds of listeners there are by design, not the leak Node would warn of.
    for (const socket of Object.values(WebSocketTracker._socketPool)) socket.setMaxListeners(0)
    const torrent = await new Promise<Torrent>((resolve, reject) => {
      // No `path`: WebTorrent hands it only to stores that write files, and this one reads the blob store.
      const t = this.client.add(torrentFile, {
        store: ReadOnlyChunkStore.over(store.reader(mediaId)),
        skipVerify: true,
        getAnnounceOpts: hooks.announceOpts
      })
      if (hooks.onWire) t.on('wire', (wire: Wire) => hooks.onWire!(t, wire))
      t.once('ready', () => { hooks.onReady(t); resolve(t) })
      t.once('error', reject)
    })
    torrent.on('error', (err: Error) => log.error({ mediaId, err: err.message }, 'torrent error'))
    torrent.on('warning', (err: Error) => log.debug({ mediaId, err: err.message }, 'torrent warning'))
    torrent.on('wire', (wire: Wire) => {
      const transport = wire.type === 'webrtc' ? 'webrtc' : wire.type.startsWith('tcp') ? 'tcp' : undefined
      if (transport) wire.on('upload', (bytes: number) => hooks.onUpload(transport, bytes))
    })
    return torrent
  }

  async destroy (): Promise<void> {
    await new Promise<void>(resolve => this.client.destroy(() => resolve()))
  }
}
