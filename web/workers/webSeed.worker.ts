/**
 * A web seed off the page's main thread. It fetches the pieces the page asks for as Blobs, one
 * Range request per stretch of pieces (`response.blob()`), checks each piece against the torrent's
 * SHA-1 and hands the same Blob back. Chromium stores a fetched Blob in the browser process
 * straight from the network: the bytes are read once here, to be checked, and never copied into
 * a new Blob. Reading the response as a stream and building Blobs of the pieces ran at ~130 MB/s,
 * this at ~200–240 (bench/README.md). The page only stores the Blobs and tells WebTorrent the
 * pieces are verified (rangeWebSeed.ts, WorkerWebSeed).
 *
 * A stretch never crosses one of the page's store groups (a whole one is kept as it is), and is
 * sized to take about `targetMs` at the speed the last one came: one piece at first, growing
 * while the web seed is fast. A video waiting for a piece waits for little more than that piece
 * on a slow link, and a fast link gets long responses.
 *
 * The protocol (ToWebSeedWorker, FromWebSeedWorker) is in rangeWebSeed.ts.
 */
import { GROUP_BYTES } from '../lib/blobChunkStore.ts'
import { pieceSize, type FromWebSeedWorker, type ToWebSeedWorker } from '../lib/rangeWebSeed.ts'

/** Where the worker talks to the page: its global scope, or one end of a MessageChannel in tests. */
export interface WebSeedPort {
  onmessage: ((event: MessageEvent<ToWebSeedWorker>) => void) | null
  postMessage: (message: FromWebSeedWorker) => void
}

export interface HostOptions {
  /** A fetch stays within one of the page's store groups of this many bytes. */
  groupBytes?: number
  /** Fetches at once: one comes while the last is checked (a third gained nothing: measured). */
  maxFetches?: number
  /** A fetch is sized to take about this long at the speed the last one came. */
  targetMs?: number
  /** A fetch not done after this long fails (a half-dead connection). */
  timeoutMs?: number
  fetch?: typeof fetch
}

interface Torrent {
  url: string
  pieceLength: number
  length: number
  pieces: number
  /** The pieces' SHA-1s, hex. */
  hashes: string[]
  /** 1 for each piece the torrent has. */
  has: Uint8Array
}

const hex = (digest: ArrayBuffer): string => Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')

/**
 * One Range request for pieces [from, to) as a Blob. Anything but exactly that range (a 200 with
 * the whole file, a 403, a 5xx, a short body) is a failure. A server on another origin may not
 * expose Content-Range: then its length must be the range's.
 */
async function fetchPieces (t: Torrent, from: number, to: number, fetchFn: typeof fetch, signal: AbortSignal): Promise<Blob> {
  const first = from * t.pieceLength
  const last = Math.min(t.length, to * t.pieceLength) - 1
  let res: Response
  try {
    res = await fetchFn(t.url, { headers: { Range: `bytes=${first}-${last}` }, cache: 'no-store', signal })
  } catch (err) {
    throw new Error(`the web seed could not be reached (${(err as Error).message})`, { cause: err })
  }
  const range = res.headers.get('content-range')
  const exact = range === null ? res.headers.get('content-length') === String(last - first + 1) : range.startsWith(`bytes ${first}-${last}/`)
  if (res.status !== 206 || !exact) {
    await res.body?.cancel()
    throw new Error(`the web seed answered ${res.status}${range === null ? '' : ` (Content-Range: ${range})`} to a Range request for bytes ${first}-${last}`)
  }
  let blob: Blob
  try {
    blob = await res.blob()
  } catch (err) {
    throw new Error(`the web seed's response broke off (${(err as Error).message})`, { cause: err })
  }
  if (blob.size !== last - first + 1) throw new Error(`the web seed's response ended early: ${blob.size} of ${last - first + 1} bytes`)
  return blob
}

/** Serves one web seed on `port` until a 'destroy' message. */
export function hostWebSeed (port: WebSeedPort, opts: HostOptions = {}): void {
  const { groupBytes = GROUP_BYTES, maxFetches = 2, targetMs = 250, timeoutMs = 60_000, fetch: fetchFn = globalThis.fetch.bind(globalThis) } = opts
  let torrent: Torrent | undefined
  /** Pieces asked for and not answered yet. */
  const asked = new Set<number>()
  /** Pieces a fetch under way brings. */
  const coming = new Set<number>()
  const running = new Set<AbortController>()
  /** Pieces in the next fetch (grows with the web seed's speed). */
  let span = 1
  let destroyed = false
  const post = (msg: FromWebSeedWorker): void => { if (!destroyed) port.postMessage(msg) }

  /** Starts fetches for the lowest pieces asked for, as far as `maxFetches` allows. */
  const schedule = (): void => {
    const t = torrent
    if (!t) return
    const waiting = [...asked].filter(i => !coming.has(i)).sort((a, b) => a - b)
    const perGroup = Math.max(1, Math.floor(groupBytes / t.pieceLength))
    for (const from of waiting) {
      if (running.size >= maxFetches) return
      if (coming.has(from)) continue
      let to = Math.min(t.pieces, (Math.floor(from / perGroup) + 1) * perGroup, from + span)
      // A run of pieces asked for, that the torrent does not have and no other fetch brings.
      for (let i = from + 1; i < to; i++) if (!asked.has(i) || t.has[i] === 1 || coming.has(i)) { to = i; break }
      void run(t, from, to)
    }
  }

  const run = async (t: Torrent, from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) coming.add(i)
    const controller = new AbortController()
    running.add(controller)
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs)
    const started = performance.now()
    try {
      const blob = await fetchPieces(t, from, to, fetchFn, controller.signal)
      // Size the next fetch to take about targetMs at this one's speed, at most 4× this one (a short fetch says little).
      const perMs = blob.size / Math.max(1, performance.now() - started)
      span = Math.max(1, Math.min(4 * (to - from), Math.floor(perMs * targetMs / t.pieceLength)))
      await check(t, from, to, blob)
    } catch (err) {
      const message = controller.signal.aborted && controller.signal.reason instanceof Error ? `the web seed: ${controller.signal.reason.message}` : (err as Error).message
      for (let i = from; i < to; i++) if (asked.delete(i)) post({ type: 'failed', index: i, message })
    } finally {
      clearTimeout(timer)
      running.delete(controller)
      for (let i = from; i < to; i++) coming.delete(i)
      if (!destroyed) schedule()
    }
  }

  /** Buffers a fetched Blob is read back into, kept for the next: fresh memory for every Blob cost more than reading it (measured). */
  const spare: ArrayBuffer[] = []

  /** The Blob's bytes in a spare buffer (a byte stream read in place); the buffer goes back to `spare` after `use`. */
  const readBack = async <T>(blob: Blob, use: (bytes: ArrayBuffer) => Promise<T>): Promise<T> => {
    const kept = spare.pop()
    let buffer: ArrayBuffer = kept !== undefined && kept.byteLength >= blob.size ? kept : new ArrayBuffer(Math.max(blob.size, groupBytes))
    const reader = blob.stream().getReader({ mode: 'byob' })
    let filled = 0
    try {
      while (filled < blob.size) {
        const { done, value }: ReadableStreamReadResult<Uint8Array<ArrayBuffer>> = await reader.read(new Uint8Array(buffer, filled, blob.size - filled))
        if (value) buffer = value.buffer
        if (done || !value) throw new Error(`the fetched pieces could be read back only to byte ${filled} of ${blob.size}`)
        filled += value.byteLength
      }
    } finally {
      reader.releaseLock()
    }
    const result = await use(buffer)
    spare.push(buffer)
    return result
  }

  /** Checks each piece of the Blob; sends the runs that pass (slices of it), fails the pieces that do not. */
  const check = async (t: Torrent, from: number, to: number, blob: Blob): Promise<void> => {
    const base = from * t.pieceLength
    const ok = await readBack(blob, async bytes => await Promise.all(Array.from({ length: to - from }, async (_, k) => {
      const at = (from + k) * t.pieceLength - base
      const digest = await crypto.subtle.digest('SHA-1', new Uint8Array(bytes, at, pieceSize(t, from + k)))
      return hex(digest) === t.hashes[from + k]
    })))
    if (destroyed) return
    let run = from
    const send = (end: number): void => {
      if (end > run) post({ type: 'pieces', from: run, count: end - run, blob: run === from && end === to ? blob : blob.slice((run - from) * t.pieceLength, Math.min(t.length, end * t.pieceLength) - base) })
    }
    for (let i = from; i < to; i++) {
      if (ok[i - from]) continue
      send(i)
      run = i + 1
      if (asked.delete(i)) post({ type: 'failed', index: i, message: `piece ${i} from the web seed failed its SHA-1 check` })
    }
    send(to)
    for (let i = from; i < to; i++) asked.delete(i)
  }

  port.onmessage = ({ data: msg }) => {
    if (destroyed) return
    if (msg.type === 'init') {
      torrent = { url: msg.url, pieceLength: msg.pieceLength, length: msg.length, pieces: Math.ceil(msg.length / msg.pieceLength), hashes: msg.hashes, has: msg.have }
    } else if (msg.type === 'news') {
      const t = torrent
      if (!t) return
      // The page answers its own waiting requests for a piece the torrent has now (from a peer).
      for (const index of msg.have) {
        t.has[index] = 1
        asked.delete(index)
      }
      for (const index of msg.request) {
        if (Number.isSafeInteger(index) && index >= 0 && index < t.pieces) asked.add(index)
        else post({ type: 'failed', index, message: `piece ${index} is not in this torrent` })
      }
      schedule()
    } else {
      // Nothing goes out after this, not even failures for the pieces still owed.
      destroyed = true
      for (const controller of running) controller.abort(new Error('the web seed was removed'))
      port.onmessage = null
    }
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) hostWebSeed(self as unknown as WebSeedPort)
