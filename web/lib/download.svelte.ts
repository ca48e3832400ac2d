/**
 * Downloading in the browser: WebTorrent fetches from every source at once, other tabs over
 * WebRTC and the server as a peer and as an HTTP web seed, so a closed uploader tab or a busy
 * swarm does not stop it. The file comes from a share link (the server's .torrent), a pasted
 * magnet link, or a .torrent file. Video and audio play while they download, streamed through
 * the service worker (tabSeeder.whenStreaming).
 */
import bencode from 'bencode'
import type { Torrent, Wire } from 'webtorrent'
import { ApiError, mediaInfo, publicTorrent, torrentFor } from './api.ts'
import { openLibraryDb } from './db.ts'
import { serverPeer, webSeedUrl } from './rangeWebSeed.ts'
import { addTorrent, fileBlob, whenStreaming } from './tabSeeder.ts'
import { fetchThumbnail, type Thumbnail } from './thumbnails.ts'

export interface DownloadInfo {
  name: string
  size: number
  mimeType: string
}

export type TorrentSource = { mediaId: string } | { torrentId: string | Uint8Array }

/**
 * Calls the API as the signed-in key (Session.authorized): a private file of mine, or one
 * shared with me, is read with my session, its .torrent with capabilities issued to me.
 */
export type SignedIn = <T>(call: (token: string) => Promise<T>) => Promise<T>

/** The server that shares the file: 'none' when the torrent names no server (no web seed). */
export type ServerState = 'unknown' | 'reachable' | 'unreachable' | 'none'

export type MediaKind = 'video' | 'audio'
export const mediaKind = (mimeType: string): MediaKind | undefined => /^(video|audio)\//.exec(mimeType)?.[1] as MediaKind | undefined

/** How often a running download checks that the server is still there. */
const SERVER_CHECK_MS = 3000

/** No answer at all (fetch's TypeError) or a gateway/server failure: the server is down, not refusing. */
const isUnreachable = (err: unknown): boolean => err instanceof TypeError || (err instanceof ApiError && err.status >= 500)

/** A web seed on this app's own server names the file's content id: <origin>/api/media/<mediaId>. */
function ownMediaId (urlList: string[]): string | undefined {
  for (const url of urlList) {
    const m = /^(.*)\/api\/media\/([0-9a-f]{64})$/.exec(url)
    if (m?.[1] === location.origin) return m[2]
  }
  return undefined
}

/** Does anything answer at this web seed? (no-cors: a foreign server need not allow us to read it) */
async function probe (url: string): Promise<ServerState> {
  try {
    await fetch(url, { method: 'HEAD', mode: 'no-cors' })
    return 'reachable'
  } catch {
    return 'unreachable'
  }
}

export class Download {
  info = $state<DownloadInfo | undefined>()
  error = $state<string | undefined>()
  started = $state(false)
  progress = $state(0)
  speed = $state(0)
  peers = $state(0)
  /** Bytes by source: the server (its HTTP web seed and its WebRTC peer), its mirrors (CDN_URLS), other browsers. */
  fromServer = $state(0)
  fromMirrors = $state(0)
  fromPeers = $state(0)
  /** The torrent names mirrors of the server: web seeds after the server's own. */
  hasMirrors = $state(false)
  /** How many other browsers sent bytes. */
  peersUsed = $state(0)
  server = $state<ServerState>('unknown')
  /** The content id: from the share link, or the server vouching for a magnet's torrent. */
  mediaId = $state<string | undefined>()
  /** While the torrent is in the tab and the service worker streams: where media plays from. */
  streamUrl = $state<string | undefined>()
  /** The finished file (an object URL of `blob`). */
  url = $state<string | undefined>()
  /** The file is already in this browser's library: nothing to download, it plays from there. */
  inLibrary = $state(false)
  /** Its picture before anything is downloaded (share links: the thumbnail its record names), or why there is none. */
  thumbnail = $state<Thumbnail | undefined>()
  /** A private torrent: read with capabilities issued to this key. */
  isPrivate = false
  blob: Blob | undefined
  torrentFile: Uint8Array | undefined
  infoHash: string | undefined
  private serverPeerId: string | null = null
  private readonly senders = new Set<string>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (readonly source: TorrentSource, private readonly signedIn?: SignedIn) {}

  get kind (): MediaKind | undefined { return this.info ? mediaKind(this.info.mimeType) : undefined }
  /** The stream while downloading; the finished file once the torrent has left the tab. */
  get playUrl (): string | undefined { return this.streamUrl ?? this.url }

  /** What the page can show before the download starts (share links only: the library or the server knows). */
  async load (): Promise<void> {
    if (!('mediaId' in this.source)) return
    const { mediaId } = this.source
    this.mediaId = mediaId
    const kept = await openLibraryDb().then(db => db.get('files', mediaId)).catch(() => undefined)
    if (kept) {
      this.info = { name: kept.name, size: kept.size, mimeType: kept.type }
      if (kept.thumbnail) this.thumbnail = { blob: kept.thumbnail }
      this.finish(kept.blob)
      this.inLibrary = true
      return
    }
    try {
      const info = this.signedIn ? await this.signedIn(token => mediaInfo(mediaId, token)) : await mediaInfo(mediaId)
      this.info = { name: info.originalName, size: info.fileSize, mimeType: info.mimeType }
      this.serverPeerId = info.seeding.peerId
      this.server = 'reachable'
      if (info.thumbnail) void this.loadThumbnail(info.thumbnail)
    } catch (err) {
      if (isUnreachable(err)) {
        this.server = 'unreachable'
        this.error = 'The server is unreachable, and this file is not in this browser\'s library. Ask whoever shared it for its magnet link: other browsers that have the file can send it without the server.'
      } else {
        this.error = err instanceof ApiError && err.status === 404
          ? `This file does not exist or is not shared with you. Check the link.${this.signedIn ? '' : ' If it was shared with you, open the app and unlock your wallet first.'}`
          : (err as Error).message
      }
    }
  }

  /** Read through the same door as the file (a private one with my session); a failure leaves the placeholder, with the reason. */
  private async loadThumbnail (thumbnailId: string): Promise<void> {
    try {
      this.thumbnail = this.signedIn ? await this.signedIn(token => fetchThumbnail(thumbnailId, token)) : await fetchThumbnail(thumbnailId)
    } catch (err) {
      this.thumbnail = { none: `its thumbnail could not be read (${(err as Error).message})` }
    }
  }

  async start (): Promise<void> {
    this.error = undefined
    this.started = true
    try {
      const source = this.source
      const torrent = 'mediaId' in source
        ? await addTorrent(this.signedIn ? await this.signedIn(token => torrentFor(source.mediaId, token)) : await publicTorrent(source.mediaId))
        : await addTorrent(source.torrentId)
      this.isPrivate = (bencode.decode(torrent.torrentFile) as { info: { private?: number } }).info.private === 1
      const file = torrent.files[0]!
      this.info ??= { name: torrent.name, size: torrent.length, mimeType: file.type }
      this.infoHash = torrent.infoHash
      this.torrentFile = torrent.torrentFile
      this.hasMirrors = torrent.urlList.length > 1
      this.countSources(torrent)
      // Its server's WebRTC peer waits while its web seed delivers (rangeWebSeed.ts, serverPeer).
      if (this.serverPeerId !== null) serverPeer(torrent, this.serverPeerId)
      if (!('mediaId' in this.source)) void this.askServer(torrent)
      this.watchSeeds(torrent)
      if (this.kind) void whenStreaming().then(() => { if (!torrent.destroyed) this.streamUrl = file.streamURL })
      // Stopped (not kept for seeding): the player goes on from the finished file.
      torrent.once('close', () => { this.streamUrl = undefined })
      this.timer = setInterval(() => {
        this.progress = torrent.progress
        this.speed = torrent.downloadSpeed
        this.peers = torrent.numPeers
      }, 250)
      const done = (): void => {
        clearInterval(this.timer)
        this.progress = 1
        try {
          this.finish(fileBlob(torrent, this.info?.mimeType ?? ''))
        } catch (err) {
          this.error = `The file downloaded but could not be read: ${(err as Error).message}`
        }
      }
      if (torrent.done) done()
      else torrent.once('done', done)
    } catch (err) {
      this.started = false
      this.error = isUnreachable(err)
        ? 'The server is unreachable, so its .torrent cannot be fetched. Ask whoever shared the file for its magnet link: other browsers that have it can send it.'
        : `The download failed: ${(err as Error).message}`
    }
  }

  private finish (blob: Blob): void {
    this.blob = blob
    this.url = URL.createObjectURL(blob)
  }

  /**
   * Server bytes: its web seed and its own WebRTC peer (known by peer id). Mirror bytes: the other
   * web seeds (the server's is the first). Everything else came from other browsers.
   */
  private countSources (torrent: Torrent): void {
    const serverSeed = torrent.urlList[0]
    const watch = (wire: Wire): void => {
      let mirror: boolean | undefined
      wire.on('download', (n: number) => {
        if (wire.type === 'webSeed') {
          mirror ??= webSeedUrl(torrent, wire) !== serverSeed
          if (mirror) this.fromMirrors += n
          else this.fromServer += n
          return
        }
        if (this.serverPeerId !== null && wire.peerId === this.serverPeerId) {
          this.fromServer += n
          return
        }
        this.fromPeers += n
        if (wire.peerId && !this.senders.has(wire.peerId)) {
          this.senders.add(wire.peerId)
          this.peersUsed = this.senders.size
        }
      })
    }
    // Magnets connect to peers before the metadata arrives: those wires exist already.
    torrent.wires.forEach(watch)
    torrent.on('wire', watch)
  }

  /**
   * A magnet or .torrent: is its server there, and does it vouch for this torrent (content id,
   * peer id)? A web seed found dead is dropped: WebTorrent retries it forever, and its failing
   * requests can keep the last pieces from the peers that have them.
   */
  private async askServer (torrent: Torrent): Promise<void> {
    const seed = torrent.urlList[0]
    if (!seed) { this.server = 'none'; return }
    const mediaId = ownMediaId(torrent.urlList)
    if (!mediaId) this.server = await probe(seed)
    else {
      try {
        const info = await mediaInfo(mediaId)
        this.server = 'reachable'
        if (info.infoHash === torrent.infoHash) {
          this.mediaId = mediaId
          this.serverPeerId = info.seeding.peerId
          if (info.seeding.peerId !== null) serverPeer(torrent, info.seeding.peerId)
        }
      } catch (err) {
        this.server = isUnreachable(err) ? 'unreachable' : 'reachable'
      }
    }
    // Its mirrors (a CDN, after the server in the list) may still answer: watchSeeds checks those.
    if (this.server === 'unreachable' && !torrent.destroyed) torrent.removePeer(seed)
  }

  /**
   * While the download runs, notice a web seed going away (or coming back): it is dropped then
   * (see askServer) and added again after. The first is the server, and the page says which it
   * was; the others are its mirrors (CDN_URLS), which go on when the server is down.
   */
  private watchSeeds (torrent: Torrent): void {
    const seeds = [...torrent.urlList]
    if (seeds.length === 0) return
    const mirrors = new Map<string, ServerState>(seeds.slice(1).map(url => [url, 'reachable']))
    const watchdog = setInterval(() => {
      if (torrent.destroyed || torrent.done) return clearInterval(watchdog)
      seeds.forEach((url, i) => void probe(url).then(state => {
        if (torrent.destroyed || torrent.done) return
        if (i === 0) {
          if (this.server === 'unknown' || state === this.server) return
          this.server = state
        } else {
          if (state === mirrors.get(url)) return
          mirrors.set(url, state)
        }
        if (state === 'unreachable') torrent.removePeer(url)
        else torrent.addWebSeed(url)
      }))
    }, SERVER_CHECK_MS)
  }
}
