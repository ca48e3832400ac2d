// The part of WebTorrent 3's API the seeder uses (the package ships no types).
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events'

  export interface Wire extends EventEmitter {
    type: 'tcpIncoming' | 'tcpOutgoing' | 'utpIncoming' | 'utpOutgoing' | 'webrtc' | 'webSeed'
    remoteAddress?: string
    uploaded: number
    downloaded: number
    /** The remote peer's id, hex. */
    peerId?: string
    destroy (): void
  }

  export interface TorrentFile extends AsyncIterable<Uint8Array<ArrayBuffer>> {
    name: string
    length: number
    path: string
    /** MIME type guessed from the file name. */
    type: string
    /** Where client.createServer() serves this file (browser: through the service worker). */
    streamURL: string
    arrayBuffer (): Promise<ArrayBuffer>
  }

  export interface Torrent extends EventEmitter {
    infoHash: string
    magnetURI: string
    name: string
    length: number
    ready: boolean
    done: boolean
    destroyed: boolean
    progress: number
    uploaded: number
    downloaded: number
    /** Bytes received from peers (downloaded also counts pieces taken as verified). */
    received: number
    numPeers: number
    downloadSpeed: number
    wires: Wire[]
    files: TorrentFile[]
    torrentFile: Uint8Array
    /** Web seed URLs (BEP 19). */
    urlList: string[]
    destroy (opts?: { destroyStore?: boolean }, cb?: (err?: Error | null) => void): void
    addWebSeed (url: string): void
    /** Disconnect a peer, or a web seed by its URL. */
    removePeer (peer: string): void
  }

  export interface TorrentOptions {
    announce?: string[]
    path?: string
    store?: unknown
    skipVerify?: boolean
    private?: boolean
    destroyStoreOnDestroy?: boolean
    /** Extra announce parameters, merged over the client's (tracker.getAnnounceOpts). */
    getAnnounceOpts?: () => Record<string, unknown>
    /** Web seed requests in flight at once (default 4). */
    maxWebConns?: number
    /** Pieces cached in memory in front of the store (default 20; 0: none). */
    storeCacheSlots?: number
  }

  export interface Options {
    /** The TCP port; webtorrent passes it to net.Server.listen as is, so { port, host } works too. */
    torrentPort?: number | { port: number, host: string }
    dht?: boolean | object
    lsd?: boolean
    utp?: boolean
    natUpnp?: boolean
    natPmp?: boolean
    webSeeds?: boolean
    tracker?: false | { rtcConfig?: RTCConfiguration, announce?: string[], wrtc?: unknown, getAnnounceOpts?: () => Record<string, unknown> }
    uploadLimit?: number
    downloadLimit?: number
  }

  export default class WebTorrent extends EventEmitter {
    constructor (opts?: Options)
    torrents: Torrent[]
    peerId: string
    torrentPort: number
    listening: boolean
    /** The TCP listener's address, once listening. */
    address (): { address: string, family: string, port: number } | null
    uploadSpeed: number
    downloadSpeed: number
    add (torrentId: string | Uint8Array | object, opts?: TorrentOptions, onTorrent?: (t: Torrent) => void): Torrent
    seed (input: unknown, opts?: TorrentOptions, onSeed?: (t: Torrent) => void): Torrent
    get (torrentId: string | Uint8Array): Promise<Torrent | null>
    remove (torrentId: string | Torrent, opts?: { destroyStore?: boolean }, cb?: (err?: Error | null) => void): Promise<void>
    destroy (cb?: (err?: Error | null) => void): void
    /** Browser: serve files through the service worker registration's /webtorrent/ route. */
    createServer (opts: { controller: ServiceWorkerRegistration }): unknown
    throttleUpload (rate: number): void
    throttleDownload (rate: number): void
  }
}
