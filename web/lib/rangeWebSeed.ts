/**
 * A faster HTTP web seed for WebTorrent. WebTorrent's own (webconn.js) makes one Range request
 * per piece: ~950 requests for 500 MB, and the page's main thread spends its time on them
 * (measured 34 MB/s over loopback against fetch()'s ~250 MB/s, bench/README.md). This serves the
 * same piece requests from a few long Range responses (up to 64 MiB each), cut into pieces as the
 * bytes arrive (RangeStreamer). WebTorrent still decides what to ask for.
 *
 * It takes over the `httpRequest` of each web seed connection WebTorrent makes (the one place
 * its WebConn turns a piece request into HTTP), so every other part of the web seed — bitfield,
 * retry after a failure, removePeer — stays WebTorrent's. Requests it cannot serve (multi-file
 * torrents) go to WebTorrent's own code.
 *
 * The app runs the streamer in a worker of its own (web/workers/webSeed.worker.ts), which also
 * checks each piece's SHA-1 and hands back Blobs: the bytes never reach the page (WorkerWebSeed).
 * Without a worker (tests, other callers) the pieces go to WebTorrent, which checks them itself.
 */
import type { Torrent } from 'webtorrent'
import type { BlobChunkStore } from './blobChunkStore.ts'

type PieceCallback = (err: Error | null, data?: Uint8Array) => void

/** What the streamer needs to know of the torrent. */
export interface PieceLayout {
  pieceLength: number
  length: number
  /** The torrent has this piece already (verified): no need to fetch it. */
  has: (index: number) => boolean
}

type Layout = Pick<PieceLayout, 'pieceLength' | 'length'>

/** The size of piece `index` (the last one is short). */
export const pieceSize = (layout: Layout, index: number): number =>
  Math.min(layout.pieceLength, layout.length - index * layout.pieceLength)

/** A request for a piece of the torrent from `offset` to its end: what WebTorrent asks of a web seed. */
const restOfPiece = (layout: Layout, index: number, offset: number, length: number): boolean =>
  index >= 0 && index < Math.ceil(layout.length / layout.pieceLength) && offset >= 0 && length > 0 && offset + length === pieceSize(layout, index)

export interface RangeStreamerOptions {
  /** Bytes per Range request. */
  streamBytes?: number
  /** A request this close ahead of a running response waits for it rather than opening one. */
  joinBytes?: number
  /** Pieces read before WebTorrent asked for them, kept in memory at most. */
  aheadBytes?: number
  /** Responses open at once (browsers allow 6 connections per server). */
  maxStreams?: number
  /** A response whose read-ahead nobody takes for this long is closed. */
  stallMs?: number
  /** A response that sends nothing for this long fails (a half-dead connection). */
  idleMs?: number
  fetch?: typeof fetch
}

interface RangeStream {
  /** The next piece the response will deliver, and the first it will not. */
  next: number
  end: number
  controller: AbortController
  /** Closed for sending nothing for `idleMs`: a failure, unlike a close for room or a stall. */
  silent?: boolean
}

/** Serves piece requests from long Range responses of one URL. */
export class RangeStreamer {
  private readonly pieces: number
  private readonly opts: Required<RangeStreamerOptions>
  /**
   * Requests by piece, each for the piece from `offset` to its end. There can be several: WebTorrent's
   * hotswap can give a piece back to the web seed while it waits, and where a peer sent the first
   * blocks of a piece WebTorrent asks the web seed for the rest.
   */
  private readonly waiting = new Map<number, Array<{ offset: number, cb: PieceCallback }>>()
  private readonly ahead = new Map<number, Uint8Array>()
  private streams: RangeStream[] = []
  /** Responses waiting for room in the read-ahead. */
  private wakers: Array<() => void> = []
  private destroyed = false
  /** A request waits for room for a response of its own (maxStreams). */
  private held = false
  /** Range responses opened so far (tests read it). */
  opened = 0

  constructor (private readonly url: string, private readonly layout: PieceLayout, opts: RangeStreamerOptions = {}) {
    this.pieces = Math.ceil(layout.length / layout.pieceLength)
    this.opts = {
      streamBytes: 64 * 2 ** 20,
      joinBytes: 16 * 2 ** 20,
      aheadBytes: 4 * 2 ** 20,
      maxStreams: 4,
      stallMs: 5000,
      idleMs: 60_000,
      fetch: globalThis.fetch.bind(globalThis),
      ...opts
    }
  }

  private piecesIn (bytes: number): number {
    return Math.max(1, Math.floor(bytes / this.layout.pieceLength))
  }

  /**
   * Takes a request for a piece from `offset` to its end (what WebTorrent asks of a web seed); false
   * for anything else (the caller makes its own request).
   */
  request (index: number, offset: number, length: number, cb: PieceCallback): boolean {
    if (this.destroyed || !restOfPiece(this.layout, index, offset, length)) return false
    const ready = this.ahead.get(index)
    if (ready) {
      this.ahead.delete(index)
      this.resume()
      queueMicrotask(() => cb(null, ready.subarray(offset)))
      return true
    }
    this.waiting.set(index, [...this.waiting.get(index) ?? [], { offset, cb }])
    const s = this.covering(index)
    if (s) {
      // Far ahead of the response, and not the next of a run of requests: a seek.
      const seek = index - s.next >= this.piecesIn(this.opts.joinBytes) && !this.waiting.has(index - 1)
      if (!seek) {
        // The response reads on for it, even past a full read-ahead: nothing to open.
        this.resume()
        return true
      }
      // The response stops short of it, and a new one starts there.
      s.end = index
    }
    this.schedule()
    return true
  }

  /** The torrent has this piece now (from a peer, say): no need to keep it read ahead. */
  forget (index: number): void {
    this.ahead.delete(index)
  }

  private covering (index: number): RangeStream | undefined {
    return this.streams.find(s => index >= s.next && index < s.end)
  }

  /** Opens responses for the waiting requests no response covers, lowest first, as far as room allows. */
  private schedule (): void {
    for (const index of [...this.waiting.keys()].sort((a, b) => a - b)) {
      if (this.covering(index)) continue
      if (!this.makeRoom()) { this.held = true; return }
      this.open(index)
    }
  }

  /** A free slot for one more response: closes one nobody waits on if need be. */
  private makeRoom (): boolean {
    if (this.streams.length < this.opts.maxStreams) return true
    const idle = this.streams.find(s => !this.awaited(s))
    if (!idle) return false
    idle.controller.abort()
    this.streams = this.streams.filter(x => x !== idle)
    this.resume()
    return true
  }

  private open (from: number): void {
    let end = Math.min(this.pieces, from + this.piecesIn(this.opts.streamBytes))
    // Stop before what another response is about to bring, or what the torrent has.
    for (const s of this.streams) if (s.next > from) end = Math.min(end, s.next)
    for (let i = from + 1; i < end; i++) if (this.layout.has(i)) { end = i; break }
    const stream: RangeStream = { next: from, end, controller: new AbortController() }
    this.streams.push(stream)
    this.opened++
    this.read(stream).then(() => this.settle(stream), err => this.settle(stream, err as Error))
  }

  private async read (s: RangeStream): Promise<void> {
    const { pieceLength, length } = this.layout
    const first = s.next * pieceLength
    const last = Math.min(length, s.end * pieceLength) - 1
    /** Waits for the web seed, failing the response if nothing comes for `idleMs`. */
    const heard = async <T>(what: Promise<T>, failure: (err: Error) => string): Promise<T> => {
      const idle = setTimeout(() => { s.silent = true; s.controller.abort() }, this.opts.idleMs)
      try {
        return await what
      } catch (err) {
        throw new Error(s.silent ? `the web seed sent nothing for ${this.opts.idleMs / 1000} s, at piece ${s.next}` : failure(err as Error), { cause: err })
      } finally {
        clearTimeout(idle)
      }
    }
    const res = await heard(this.opts.fetch(this.url, { headers: { Range: `bytes=${first}-${last}` }, cache: 'no-store', signal: s.controller.signal }),
      err => `the web seed could not be reached (${err.message})`)
    // Anything but the range asked for (a 200 with the whole file, a 403, a 5xx) is a failure. A
    // server on another origin may not expose Content-Range: then its length must be the range's.
    const range = res.headers.get('content-range')
    const exact = range === null ? res.headers.get('content-length') === String(last - first + 1) : range.startsWith(`bytes ${first}-${last}/`)
    if (res.status !== 206 || !exact) {
      await res.body?.cancel()
      throw new Error(`the web seed answered ${res.status}${range === null ? '' : ` (Content-Range: ${range})`} to a Range request for bytes ${first}-${last}`)
    }
    const reader = res.body!.getReader()
    try {
      let piece: Uint8Array | undefined
      let filled = 0
      while (s.next < s.end) {
        if (!await this.roomAhead(s)) return
        const { done, value } = await heard(reader.read(), err => `the web seed's response broke off at piece ${s.next} (${err.message})`)
        if (done) throw new Error(`the web seed's response ended early, at piece ${s.next}`)
        for (let at = 0; at < value.length && s.next < s.end;) {
          piece ??= new Uint8Array(pieceSize(this.layout, s.next))
          const take = Math.min(piece.length - filled, value.length - at)
          piece.set(value.subarray(at, at + take), filled)
          filled += take
          at += take
          if (filled === piece.length) {
            this.deliver(s.next++, piece)
            piece = undefined
            filled = 0
          }
        }
      }
    } finally {
      // Stopped short (another response took over, or nobody read ahead): the rest is not wanted.
      await reader.cancel().catch(() => {})
    }
  }

  /** A request waits for a piece this response is still to deliver. */
  private awaited (s: RangeStream): boolean {
    return [...this.waiting.keys()].some(i => i >= s.next && i < s.end)
  }

  /**
   * Waits while the read-ahead is full; false when nobody took any of it for `stallMs`. A response
   * a request waits on reads on regardless: else read-ahead nobody takes would starve it for good.
   */
  private async roomAhead (s: RangeStream): Promise<boolean> {
    const limit = this.piecesIn(this.opts.aheadBytes)
    const deadline = Date.now() + this.opts.stallMs
    while (this.ahead.size >= limit && !this.awaited(s)) {
      const left = deadline - Date.now()
      if (left <= 0 || s.controller.signal.aborted) return false
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.wakers.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return !s.controller.signal.aborted
  }

  private resume (): void {
    const wakers = this.wakers
    this.wakers = []
    for (const wake of wakers) wake()
  }

  private deliver (index: number, data: Uint8Array): void {
    const requests = this.waiting.get(index)
    if (requests) {
      this.waiting.delete(index)
      for (const { offset, cb } of requests) cb(null, data.subarray(offset))
      // A request that found no room may find it now that this response has one waiter less.
      if (this.held) {
        this.held = false
        this.schedule()
      }
    } else if (!this.layout.has(index)) {
      this.ahead.set(index, data)
    }
  }

  /**
   * A response ended. After a failure the requests it was to serve fail (WebTorrent's WebConn
   * then retries those pieces later); otherwise whatever still waits gets a new response.
   */
  private settle (s: RangeStream, err?: Error): void {
    this.streams = this.streams.filter(x => x !== s)
    if (this.destroyed) return
    if (err !== undefined && (s.silent === true || !s.controller.signal.aborted)) {
      for (const [i, requests] of this.waiting) {
        if (i < s.next || i >= s.end || this.covering(i)) continue
        this.waiting.delete(i)
        for (const { cb } of requests) cb(err)
      }
    }
    this.schedule()
  }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const s of this.streams) s.controller.abort()
    this.streams = []
    this.ahead.clear()
    this.resume()
    const err = new Error('the web seed was removed')
    for (const requests of this.waiting.values()) for (const { cb } of requests) cb(err)
    this.waiting.clear()
  }
}

/** WebTorrent's internals this relies on (webtorrent 3: lib/torrent.js, lib/peer.js, lib/webconn.js, bittorrent-protocol). */
interface WebSeedConn {
  url: string
  httpRequest: (index: number, offset: number, length: number, cb: PieceCallback) => void
  /** Sends a piece to the other end of the connection: for a web seed, the torrent's own wire. */
  piece: (index: number, offset: number, buffer: Uint8Array) => void
  once: (event: 'close', listener: () => void) => void
}
interface WireInternals {
  have: (index: number) => void
  /** What a wire does with a piece it received: answers its request, counts the bytes. */
  _onPiece: (index: number, offset: number, buffer: Uint8Array) => void
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
}

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
}

/**
 * The page's side of a web seed worker. It takes the same piece requests as a RangeStreamer, but
 * the bytes stay in the worker: what comes back is verified pieces in Blobs, which go straight
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

  /** `onBreak`: the worker is gone for good (WebTorrent's own web seed serves from then on). */
  constructor (private readonly torrent: TorrentInternals, private readonly url: string, private readonly seeds: VerifiedWebSeeds, private readonly onBreak: () => void) {
    this.pieces = Math.ceil(torrent.length / torrent.pieceLength)
    this.zeros = new Uint8Array(torrent.pieceLength)
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

  /** As RangeStreamer.request: a piece from `offset` to its end, else false. */
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
    return true
  }

  forget (index: number): void {
    if (!this.destroyed && this.worker) this.tell().have.push(index)
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
    return requests
  }

  private stored ({ from, count, blob }: { from: number, count: number, blob: Blob }): void {
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
      for (const { length, cb } of this.take(index)) cb(null, this.zeros.subarray(0, length))
    }
    t._checkDone()
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
 * Pieces asked of a streamed web seed at once. WebTorrent asks for at most one second of download
 * and refills when half of it is left, but in a busy page only every 250 ms (its updates wait for
 * an idle moment): with 64 requests of 256 KiB pieces that alone capped a download at ~67 MB/s.
 * A streamed web seed answers them from a few responses, so the count costs nothing.
 */
const STREAMED_REQUESTS = 1024

/**
 * Make every web seed WebTorrent adds to this torrent stream long ranges (call right after
 * `client.add`, before the metadata: WebTorrent adds the torrent's web seeds with it). With
 * `verified`, a worker reads and checks the pieces (WorkerWebSeed); else the page does, through
 * WebTorrent's own checks.
 */
export function streamWebSeeds (torrent: Torrent, opts: RangeStreamerOptions & { verified?: VerifiedWebSeeds } = {}): void {
  const { verified, ...streamerOpts } = opts
  const t = torrent as unknown as Torrent & TorrentInternals
  // WebTorrent's own web seed makes a request per piece: it gets the caller's count back if it takes over.
  const perPieceRequests = t.maxWebConns
  torrent.on('peer', (id: unknown) => {
    const peer = typeof id === 'string' ? t._peers.get(id) : undefined
    if (peer?.type !== 'webSeed' || !peer.conn || !peer.wire || t.files.length !== 1) return
    t.maxWebConns = Math.max(t.maxWebConns, STREAMED_REQUESTS)
    const { conn: web, wire } = peer
    // A web seed connection plays the BitTorrent wire protocol with the torrent's wire, through
    // streams: every piece is framed, parsed and copied on the way. Hand it over directly instead.
    web.piece = (index, offset, buffer) => {
      peer.emit('download', buffer.length)
      wire._onPiece(index, offset, buffer)
    }
    const seed = verified
      ? new WorkerWebSeed(t, web.url, verified, () => { t.maxWebConns = perPieceRequests })
      : new RangeStreamer(web.url, { pieceLength: t.pieceLength, length: t.length, has: i => t.bitfield?.get(i) === true }, streamerOpts)
    const perPiece = web.httpRequest.bind(web)
    web.httpRequest = (index, offset, length, cb) => {
      if (!seed.request(index, offset, length, cb)) perPiece(index, offset, length, cb)
    }
    const forget = (index: number): void => seed.forget(index)
    const release = (): void => { if (seed instanceof WorkerWebSeed) seed.release() }
    torrent.on('verified', forget)
    torrent.on('done', release)
    web.once('close', () => {
      torrent.off('verified', forget)
      torrent.off('done', release)
      seed.destroy()
    })
  })
}
