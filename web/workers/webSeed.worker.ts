/**
 * A web seed off the page's main thread: reads the pieces the page asks for from long Range
 * responses (RangeStreamer), checks each against the torrent's SHA-1 and hands them back in
 * Blobs, several pieces per Blob. The bytes never reach the page's heap: it only stores the Blobs
 * and tells WebTorrent the pieces are verified (rangeWebSeed.ts, WorkerWebSeed). In the page the
 * same work (the wire protocol, its copies, SHA-1, Blobs) kept the main thread busy and capped a
 * download at ~100 MB/s (bench/README.md).
 *
 * The protocol (ToWebSeedWorker, FromWebSeedWorker) is in rangeWebSeed.ts.
 */
import { GROUP_BYTES } from '../lib/blobChunkStore.ts'
import { pieceSize, RangeStreamer, type FromWebSeedWorker, type RangeStreamerOptions, type ToWebSeedWorker } from '../lib/rangeWebSeed.ts'

/** Where the worker talks to the page: its global scope, or one end of a MessageChannel in tests. */
export interface WebSeedPort {
  onmessage: ((event: MessageEvent<ToWebSeedWorker>) => void) | null
  postMessage: (message: FromWebSeedWorker) => void
}

export interface HostOptions extends RangeStreamerOptions {
  /** Verified pieces in one Blob, at most: the page's store groups (fewer, larger Blobs cost less than one per piece: measured). */
  batchBytes?: number
  /** A batch goes out this long after its first piece, full or not (a slow web seed, a video waiting). */
  batchMs?: number
}

const hex = (digest: ArrayBuffer): string => Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('')

/** Serves one web seed on `port` until a 'destroy' message. */
export function hostWebSeed (port: WebSeedPort, opts: HostOptions = {}): void {
  const { batchBytes = GROUP_BYTES, batchMs = 50, ...streamerOpts } = opts
  let streamer: RangeStreamer | undefined
  let hashes: string[] = []
  let has = new Uint8Array(0)
  let layout = { pieceLength: 1, length: 0 }
  /** Pieces asked for and not answered yet (still to come, or being checked): a second ask for one is already served. */
  const asked = new Set<number>()
  /** Verified pieces in a row, not sent yet. */
  let batch: { from: number, parts: Array<Uint8Array<ArrayBuffer>> } | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Each digest starts as its piece arrives; the results are taken in order. */
  let checked = Promise.resolve()

  let destroyed = false
  const post = (msg: FromWebSeedWorker): void => { if (!destroyed) port.postMessage(msg) }

  const send = (): void => {
    clearTimeout(timer)
    timer = undefined
    if (!batch) return
    post({ type: 'pieces', from: batch.from, count: batch.parts.length, blob: new Blob(batch.parts) })
    batch = undefined
  }

  /**
   * Batches end where the page's store starts a Blob (BlobChunkStore, same size): a whole one is
   * kept as it is. One goes out early when the next piece is not asked for (nothing to wait for)
   * or after `batchMs` (it is slow to come).
   */
  const keep = (index: number, data: Uint8Array<ArrayBuffer>): void => {
    if (batch && index !== batch.from + batch.parts.length) send()
    batch ??= { from: index, parts: [] }
    batch.parts.push(data)
    const perBatch = Math.max(1, Math.floor(batchBytes / layout.pieceLength))
    if ((index + 1) % perBatch === 0 || (index + 1) * layout.pieceLength >= layout.length || !asked.has(index + 1)) send()
    else timer ??= setTimeout(send, batchMs)
  }

  const verify = (index: number, data: Uint8Array<ArrayBuffer>): void => {
    const digest = crypto.subtle.digest('SHA-1', data)
    checked = checked.then(async () => {
      const ok = hex(await digest) === hashes[index]
      asked.delete(index)
      if (ok) return keep(index, data)
      send()
      post({ type: 'failed', index, message: `piece ${index} from the web seed failed its SHA-1 check` })
    }).catch((err: unknown) => {
      asked.delete(index)
      post({ type: 'failed', index, message: `piece ${index} could not be checked (${(err as Error).message})` })
    })
  }

  const request = (index: number): void => {
    if (!streamer || asked.has(index)) return
    asked.add(index)
    const taken = streamer.request(index, 0, pieceSize(layout, index), (err, data) => {
      if (!err) return verify(index, data as Uint8Array<ArrayBuffer>)
      asked.delete(index)
      post({ type: 'failed', index, message: err.message })
    })
    if (!taken) {
      asked.delete(index)
      post({ type: 'failed', index, message: `piece ${index} is not in this torrent` })
    }
  }

  port.onmessage = ({ data: msg }) => {
    if (msg.type === 'init') {
      ;({ hashes, have: has } = msg)
      layout = { pieceLength: msg.pieceLength, length: msg.length }
      streamer = new RangeStreamer(msg.url, { ...layout, has: i => has[i] === 1 }, streamerOpts)
    } else if (msg.type === 'news') {
      for (const index of msg.have) {
        has[index] = 1
        streamer?.forget(index)
      }
      for (const index of msg.request) request(index)
    } else {
      // Nothing goes out after this: not the failures destroy() hands to waiting pieces, nor a batch.
      destroyed = true
      streamer?.destroy()
      clearTimeout(timer)
      batch = undefined
      port.onmessage = null
    }
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) hostWebSeed(self as unknown as WebSeedPort)
