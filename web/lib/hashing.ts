/**
 * Hashing on the browser side: `hashFile` runs the one-pass hash in a Web Worker (the UI thread
 * stays free), `browserSha1` gives shared/torrent.ts its SHA-1 for infoHashes on the main thread.
 */
import bencode from 'bencode'
import { wasmSha1 } from '../../shared/hashWasm.ts'
import { infoHashOf, type HasherFactory } from '../../shared/torrent.ts'
import type { HashMessage, HashRequest, PiecesRequest } from '../workers/hash.worker.ts'

export interface FileHashes {
  /** Lowercase hex SHA-256 of the bytes. */
  mediaId: string
  size: number
  pieceLength: number
  /** Concatenated 20-byte SHA-1 piece hashes at `pieceLength`. */
  pieces: Uint8Array
}

export interface HashOptions {
  onProgress?(done: number, total: number): void
  signal?: AbortSignal
  /** Bytes per batch handed to the pieces worker (default 4 MiB); the file itself is read with blob.stream(). */
  chunkSize?: number
  /** SHA-1 pieces in a second worker, in parallel with SHA-256 (default: with ≥ 2 cores and ≥ 32 MiB). */
  parallel?: boolean
}

/** Below this a second worker's start-up (~tens of ms) costs more than it saves. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024

const abortError = (): Error => new DOMException('Hashing cancelled', 'AbortError')

/** Hashes running on two workers, so on both cores: background work waits for them (whenCoresFree). */
let parallelHashes = 0
let waiting: Array<() => void> = []

/** Resolves when no hash holds both cores: thumbnails (thumbnails.ts) wait for it, so they never slow hashing down. */
export function whenCoresFree (): Promise<void> {
  return parallelHashes === 0 ? Promise.resolve() : new Promise(resolve => waiting.push(resolve))
}
const startWorker = (name: string): Worker =>
  new Worker(new URL('../workers/hash.worker.ts', import.meta.url), { type: 'module', name })

export function hashFile (file: Blob, opts: HashOptions = {}): Promise<FileHashes> {
  const { onProgress, signal, chunkSize } = opts
  const parallel = opts.parallel ?? (navigator.hardwareConcurrency >= 2 && file.size >= PARALLEL_MIN_BYTES)
  if (signal?.aborted) return Promise.reject(abortError())
  return new Promise((resolve, reject) => {
    const workers = [startWorker('hash')]
    if (parallel) parallelHashes++
    let finished = false
    const finish = (): void => {
      for (const w of workers) w.terminate()
      signal?.removeEventListener('abort', onAbort)
      if (!parallel || finished) return
      finished = true
      if (--parallelHashes === 0) {
        for (const resume of waiting) resume()
        waiting = []
      }
    }
    // terminate() stops the workers mid-file; no cooperative cancel is needed.
    const onAbort = (): void => { finish(); reject(abortError()) }
    signal?.addEventListener('abort', onAbort, { once: true })
    const onError = (event: ErrorEvent): void => {
      finish()
      reject(new Error(`The hash worker failed: ${event.message || 'it could not start'}`))
    }
    const [main] = workers as [Worker]
    main.onerror = onError
    main.onmessage = (event: MessageEvent<HashMessage>) => {
      const msg = event.data
      if (msg.type === 'progress') onProgress?.(msg.done, msg.total)
      else if (msg.type === 'done') {
        finish()
        resolve({ mediaId: msg.mediaId, size: msg.size, pieceLength: msg.pieceLength, pieces: msg.pieces })
      } else {
        finish()
        reject(new Error(`Could not hash the file: ${msg.message}`))
      }
    }
    const request: HashRequest = { file, ...(chunkSize ? { chunkSize } : {}) }
    if (parallel) {
      const { port1, port2 } = new MessageChannel()
      const pieces = startWorker('hash-pieces')
      workers.push(pieces)
      pieces.onerror = onError
      pieces.postMessage({ type: 'pieces', port: port2, size: file.size } satisfies PiecesRequest, [port2])
      request.piecesPort = port1
    }
    main.postMessage(request, request.piecesPort ? [request.piecesPort] : [])
  })
}

let sha1: Promise<HasherFactory> | undefined

/**
 * hash-wasm SHA-1 for buildTorrent / infoHashOf / torrentFromInfo on the main thread. One
 * shared instance: those functions are synchronous and finish each hash before the next starts.
 */
export const browserSha1 = (): Promise<HasherFactory> => {
  // A failed start (wasm blocked, out of memory) is not cached: the next call tries again.
  sha1 ??= wasmSha1().catch((err: unknown) => { sha1 = undefined; throw err })
  return sha1
}

/** The infoHash of a .torrent file's info dict. */
export const infoHashOfTorrent = async (torrentFile: Uint8Array): Promise<string> =>
  infoHashOf((bencode.decode(torrentFile) as { info: Record<string, unknown> }).info, await browserSha1())
