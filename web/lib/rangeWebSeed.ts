/**
 * A faster HTTP web seed for WebTorrent. WebTorrent's own (webconn.js) makes one Range request
 * per piece in the page: ~950 requests for 500 MB, and the page's main thread spends its time on
 * them and on checking the pieces (34 MB/s over loopback against fetch()'s ~250 MB/s,
 * bench/README.md). Here a worker of its own (web/workers/webSeed.worker.ts) fetches stretches of
 * pieces as Blobs and checks them; the bytes never reach the page (WorkerWebSeed).
 *
 * It takes over the `httpRequest` of each web seed connection WebTorrent makes (the one place
 * its WebConn turns a piece request into HTTP), so every other part of the web seed — bitfield,
 * retry after a failure, removePeer — stays WebTorrent's, and WebTorrent still decides what to ask
 * for. Requests it cannot serve (multi-file torrents, a worker that cannot start or died) go to
 * WebTorrent's own code.
 */
import type { Torrent } from 'webtorrent'
import type { BlobChunkStore } from './blobChunkStore.ts'

type PieceCallback = (err: Error | null, data?: Uint8Array) => void

type Layout = { pieceLength: number, length: number }

/** The size of piece `index` (the last one is short). */
export const pieceSize = (layout: Layout, index: number): number =>
  Math.min(layout.pieceLength, layout.length - index * layout.pieceLength)

/** A request for a piece of the torrent from `offset` to its end: what WebTorrent asks of a web seed. */
const restOfPiece = (layout: Layout, index: number, offset: number, length: number): boolean =>
  index >= 0 && index < Math.ceil(layout.length / layout.pieceLength) && offset >= 0 && length > 0 && offset + length === pieceSize(layout, index)

/** WebTorrent's internals this relies on (webtorrent 3: lib/torrent.js, lib/peer.js, lib/webconn.js, bittorrent-protocol). */
interface WebSeedConn {
  url: string
  httpRequest: (index: number, offset: number, length: number, cb: PieceCallback) => void
  /** Sends a piece to the other end of the connection: for a web seed, the torrent's own wire. */
  piece: (index: number, offset: number, buffer: Uint8Array) => void
  once: (event: 'close', listener: () => void) => void
}
interface WireRequest { piece: number }
interface WireInternals {
  have: (index: number) => void
  /** What a wire does with a piece it received: answers its request, counts the bytes. */
  _onPiece: (index: number, offset: number, buffer: Uint8Array) => void
  /** The parts of _onPiece that answer the request, without counting (bittorrent-protocol). */
  requests: WireRequest[]
  _pull: (requests: WireRequest[], index: number, offset: number, length: number) => WireRequest | null
  _callback: (request: WireRequest | null, err: Error | null, buffer: Uint8Array) => void
}

interface TorrentInternals {
  maxWebConns: number
  pieceLength: number
  length: number
  files: unknown[]
  bitfield?: { get: (index: number) => boolean }
  wires: WireInternals[]
  /** The pieces' SHA-1s, hex. */
  _hashes: string[]
  _peers: Map<string, { type: string, conn?: WebSeedConn, wire?: WireInternals, emit: (event: 'download', bytes: number) => void }>
  _markVerified: (index: number) => void
  _checkDone: () => void
  /** Asks a wire for pieces (WebTorrent runs it for every wire on each update). */
  _updateWire: (wire: { peerId?: string }) => void
  _update: () => void
  urlList: string[]
}

/** Answers for pieces the torrent got elsewhere: they clear a web seed's request, but no byte came from it. */
const gotElsewhere = new WeakSet<Uint8Array>()

/** The URL of the web seed behind this wire of the torrent, if it is one. */
export function webSeedUrl (torrent: Torrent, wire: unknown): string | undefined {
  for (const peer of (torrent as unknown as TorrentInternals)._peers.values()) {
    if (peer.type === 'webSeed' && peer.wire === wire) return peer.conn?.url
  }
  return undefined
}

/**
 * Page → web seed worker (web/workers/webSeed.worker.ts). `init.have`: 1 for each piece the
 * torrent has. `news`: pieces the torrent got since (`have`) and pieces it asks for (`request`),
 * gathered over a task: a message per piece cost the worker more than its SHA-1s (measured).
 */
export type ToWebSeedWorker =
  | { type: 'init', url: string, pieceLength: number, length: number, hashes: string[], have: Uint8Array<ArrayBuffer> }
  | { type: 'news', have: number[], request: number[] }
  | { type: 'destroy' }
/** Web seed worker → page: pieces `from` … `from + count - 1`, verified, in one Blob; or a piece that failed. */
export type FromWebSeedWorker =
  | { type: 'pieces', from: number, count: number, blob: Blob }
  | { type: 'failed', index: number, message: string }

/** A web seed worker, or in tests one end of a MessageChannel whose other end hosts one. */
export interface WebSeedWorker {
  postMessage: (msg: ToWebSeedWorker) => void
  onmessage: ((event: MessageEvent<FromWebSeedWorker>) => void) | null
  onerror?: ((event: ErrorEvent) => void) | null
  onmessageerror?: ((event: MessageEvent) => void) | null
  terminate?: () => void
}

/** Web seeds whose pieces a worker reads and verifies, for a torrent whose store is a BlobChunkStore. */
export interface VerifiedWebSeeds {
  spawn: () => WebSeedWorker
  /** The torrent's store (WebTorrent makes it with the metadata). */
  store: () => BlobChunkStore | undefined
  /** Pieces asked for and none come for this long: the web seed is stalled (default 3 s). */
  stallMs?: number
}

/**
 * The page's side of a web seed worker. It takes WebTorrent's piece requests, but the bytes stay
 * in the worker: what comes back is verified pieces in Blobs, which go straight
 * into the store and are marked verified in the torrent, as WebTorrent does with a piece it
 * checked itself (torrent.js, `_request`). Each request is then answered with a view of the right
 * length over one buffer of zeros: the wire counts the bytes and clears the request, and WebTorrent
 * drops the answer, since the piece is complete (a piece not marked complete would fail its check,
 * never be stored).
 */
class WorkerWebSeed {
  /** Started at the first request, let go when the torrent is done (release). */
  private worker?: WebSeedWorker
  /** The worker could not start or died: WebTorrent's own web seed serves from then on. */
  private broken = false
  private news?: { have: number[], request: number[] }
  private readonly waiting = new Map<number, Array<{ length: number, cb: PieceCallback }>>()
  private readonly pieces: number
  private readonly zeros: Uint8Array
  private destroyed = false
  /** The worker's pieces are being marked verified (stored). */
  private storing = false
  /** When pieces last came, or requests started waiting. */
  private lastDelivery = 0
  /** While requests wait: wakes WebTorrent when the web seed stalls, so its other sources are asked. */
  private watchdog?: ReturnType<typeof setInterval>
  private readonly stallMs: number

  /** `onBreak`: the worker is gone for good (WebTorrent's own web seed serves from then on). */
  constructor (private readonly torrent: TorrentInternals, private readonly url: string, private readonly seeds: VerifiedWebSeeds, private readonly onBreak: () => void) {
    this.pieces = Math.ceil(torrent.length / torrent.pieceLength)
    this.zeros = new Uint8Array(torrent.pieceLength)
    this.stallMs = seeds.stallMs ?? 3000
  }

  /** The worker sends what it is asked for: nothing waits, or pieces came within `stallMs`. */
  get delivering (): boolean {
    return !this.broken && !this.destroyed && (this.waiting.size === 0 || performance.now() - this.lastDelivery < this.stallMs)
  }

  /** Keeps `lastDelivery` and the watchdog in step with the requests waiting. */
  private watch (): void {
    if (this.waiting.size > 0 && !this.destroyed && !this.broken) {
      if (this.watchdog) return
      this.lastDelivery = performance.now()
      this.watchdog = setInterval(() => { if (!this.delivering) this.torrent._update() }, this.stallMs)
    } else {
      clearInterval(this.watchdog)
      this.watchdog = undefined
    }
  }

  /**
   * The worker, started at the first request: WebTorrent adds web seeds before it has set up the
   * piece hashes and the bitfield. Pieces verified after this come as 'verified' events (forget).
   */
  private started (): WebSeedWorker {
    if (this.worker) return this.worker
    const { pieceLength, length, bitfield, _hashes: hashes } = this.torrent
    const worker = this.worker = this.seeds.spawn()
    worker.onmessage = ({ data }) => {
      // A message already on its way when the torrent went (destroy) finds nothing to complete.
      if (this.destroyed || worker !== this.worker) return
      if (data.type === 'pieces') this.stored(data)
      else this.fail(data.index, new Error(data.message))
    }
    worker.onerror = event => this.break(`the web seed worker failed (${event.message ?? 'no message'})`)
    worker.onmessageerror = () => this.break('the web seed worker sent a message that could not be read')
    const have = Uint8Array.from({ length: this.pieces }, (_, i) => bitfield?.get(i) === true ? 1 : 0)
    worker.postMessage({ type: 'init', url: this.url, pieceLength, length, hashes, have })
    return worker
  }

  /** No worker from now on: what waits fails (WebConn retries it), later requests go to WebTorrent's own web seed. */
  private break (reason: string): void {
    if (this.broken || this.destroyed) return
    this.broken = true
    this.stop()
    this.onBreak()
    const err = new Error(`${reason}; WebTorrent's own web seed takes over`)
    for (const index of [...this.waiting.keys()]) this.fail(index, err)
  }

  private stop (): void {
    if (!this.worker) return
    this.worker.onmessage = null
    this.worker.postMessage({ type: 'destroy' })
    this.worker.terminate?.()
    this.worker = undefined
    this.news = undefined
  }

  /** The torrent is done: nothing more to fetch, so the worker goes (a later request starts another). */
  release (): void {
    if (this.waiting.size === 0) this.stop()
  }

  /** Takes a request for a piece from `offset` to its end (what WebTorrent asks of a web seed); false for anything else. */
  request (index: number, offset: number, length: number, cb: PieceCallback): boolean {
    if (this.destroyed || this.broken || !restOfPiece(this.torrent, index, offset, length)) return false
    const requests = this.waiting.get(index)
    if (requests) return requests.push({ length, cb }) > 0
    try {
      this.tell().request.push(index)
    } catch (err) {
      this.break(`the web seed worker could not start (${(err as Error).message})`)
      return false
    }
    this.waiting.set(index, [{ length, cb }])
    this.watch()
    return true
  }

  /** The torrent has this piece now (from a peer, say): its requests are answered as done, and the worker stops looking for it. */
  forget (index: number): void {
    // Marking the worker's own pieces verified (stored) comes back here: those are answered there, counted.
    if (this.destroyed || this.storing) return
    this.answer(index, false)
    if (this.worker) this.tell().have.push(index)
  }

  /** Answers the requests for a piece the torrent has (see the class comment); `fromHere`: the worker sent it, count its bytes. */
  private answer (index: number, fromHere: boolean): void {
    for (const { length, cb } of this.take(index)) {
      const zeros = this.zeros.subarray(0, length)
      if (!fromHere) gotElsewhere.add(zeros)
      cb(null, zeros)
    }
  }

  /** The news for the worker, sent once the current task is done. */
  private tell (): { have: number[], request: number[] } {
    if (this.news) return this.news
    const worker = this.started()
    const news = this.news = { have: [], request: [] }
    queueMicrotask(() => {
      if (this.news !== news) return // the worker was stopped meanwhile
      this.news = undefined
      worker.postMessage({ type: 'news', ...news })
    })
    return news
  }

  private take (index: number): Array<{ length: number, cb: PieceCallback }> {
    const requests = this.waiting.get(index) ?? []
    this.waiting.delete(index)
    this.watch()
    return requests
  }

  private stored ({ from, count, blob }: { from: number, count: number, blob: Blob }): void {
    const t = this.torrent
    this.lastDelivery = performance.now()
    this.storing = true
    try {
      this.store(from, count, blob)
    } finally {
      this.storing = false
    }
    t._checkDone()
  }

  private store (from: number, count: number, blob: Blob): void {
    const t = this.torrent
    const store = this.seeds.store()
    const err = store ? store.putPieces(from, count, blob) : new Error('the torrent has no store yet')
    for (let index = from; index < from + count; index++) {
      if (err) {
        this.fail(index, new Error(`pieces from the web seed worker could not be stored: ${err.message}`))
        continue
      }
      if (t.bitfield?.get(index) !== true) {
        t._markVerified(index)
        for (const wire of t.wires) wire.have(index)
      }
      this.answer(index, true)
    }
  }

  private fail (index: number, err: Error): void {
    for (const { cb } of this.take(index)) cb(err)
  }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.stop()
    const err = new Error('the web seed was removed')
    for (const index of [...this.waiting.keys()]) this.fail(index, err)
  }
}

/**
 * Pieces asked of a worker's web seed at once. WebTorrent asks for at most one second of download
 * and refills when half of it is left, but in a busy page only every 250 ms (its updates wait for
 * an idle moment): with 64 requests of 256 KiB pieces that alone capped a download at ~67 MB/s.
 * The worker answers them from a few responses, so the count costs nothing.
 */
const STREAMED_REQUESTS = 1024

/**
 * The server behind a torrent's first web seed is often in the swarm too, as a WebRTC peer. Its
 * two doors send the same bytes, but over WebRTC the pieces cost both ends far more (DTLS and
 * SCTP, 16 KiB messages, and each piece a hole in the web seed's long fetches): a 500 MB download
 * that took 2 % of its pieces from the server's peer ran at ~200 MB/s, ~250 MB/s without
 * (bench/README.md). So while that web seed delivers, the server's peer is asked for nothing. It
 * stays connected, and is asked as usual once the web seed stalls (`stallMs`), breaks or is gone.
 */
interface ServerPeers {
  ids: Set<string>
  /** The worker behind the torrent's first web seed, while there is one. */
  seed?: WorkerWebSeed
}
const serverPeers = new WeakMap<object, ServerPeers>()

/** This WebRTC peer is the server of the torrent's first web seed (its id comes from that server). */
export function serverPeer (torrent: Torrent, peerId: string): void {
  serverPeers.get(torrent)?.ids.add(peerId)
}

/**
 * Make every web seed WebTorrent adds to this torrent a worker's (call right after `client.add`,
 * before the metadata: WebTorrent adds the torrent's web seeds with it), for a torrent whose
 * store is a BlobChunkStore.
 */
export function workerWebSeeds (torrent: Torrent, seeds: VerifiedWebSeeds): void {
  const t = torrent as unknown as Torrent & TorrentInternals
  const server: ServerPeers = { ids: new Set() }
  serverPeers.set(torrent, server)
  const updateWire = t._updateWire.bind(t)
  t._updateWire = wire => {
    if (server.seed?.delivering === true && wire.peerId !== undefined && server.ids.has(wire.peerId)) return
    updateWire(wire)
  }
  // WebTorrent's own web seed makes a request per piece: it gets the caller's count back if it takes over.
  const perPieceRequests = t.maxWebConns
  torrent.on('peer', (id: unknown) => {
    const peer = typeof id === 'string' ? t._peers.get(id) : undefined
    if (peer?.type !== 'webSeed' || !peer.conn || !peer.wire || t.files.length !== 1) return
    t.maxWebConns = Math.max(t.maxWebConns, STREAMED_REQUESTS)
    const { conn: web, wire } = peer
    // A web seed connection plays the BitTorrent wire protocol with the torrent's wire, through
    // streams: every answer is framed, parsed and copied on the way. Hand it over directly instead.
    web.piece = (index, offset, buffer) => {
      if (gotElsewhere.has(buffer)) return wire._callback(wire._pull(wire.requests, index, offset, buffer.length), null, buffer)
      peer.emit('download', buffer.length)
      wire._onPiece(index, offset, buffer)
    }
    const seed = new WorkerWebSeed(t, web.url, seeds, () => {
      t.maxWebConns = perPieceRequests
      t._update()
    })
    if (web.url === t.urlList[0]) server.seed = seed
    const perPiece = web.httpRequest.bind(web)
    web.httpRequest = (index, offset, length, cb) => {
      if (!seed.request(index, offset, length, cb)) perPiece(index, offset, length, cb)
    }
    const forget = (index: number): void => seed.forget(index)
    const release = (): void => seed.release()
    torrent.on('verified', forget)
    torrent.on('done', release)
    web.once('close', () => {
      torrent.off('verified', forget)
      torrent.off('done', release)
      seed.destroy()
      if (server.seed === seed) {
        server.seed = undefined
        t._update()
      }
    })
  })
}
