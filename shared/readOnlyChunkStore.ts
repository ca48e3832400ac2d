/**
 * An abstract-chunk-store over bytes that are already complete and verified (a stored blob on
 * the server, a File kept in IndexedDB in the browser). WebTorrent seeds from it without
 * copying the bytes into a store of its own; writes are refused.
 */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>

export interface ByteSource {
  readAt: ReadAt
  close?: () => Promise<void>
}

type Callback<T = void> = (err: Error | null, value?: T) => void

export interface ChunkStoreOptions { length: number }
export type ChunkStoreConstructor = new (chunkLength: number, opts: ChunkStoreOptions) => ReadOnlyChunkStore

export class ReadOnlyChunkStore {
  readonly chunkLength: number
  private readonly length: number
  private readonly source: ByteSource
  private closed = false

  constructor (chunkLength: number, length: number, source: ByteSource) {
    this.chunkLength = chunkLength
    this.length = length
    this.source = source
  }

  /** The constructor WebTorrent's `store` option wants, bound to one byte source. */
  static over (source: ByteSource): ChunkStoreConstructor {
    return class extends ReadOnlyChunkStore {
      constructor (chunkLength: number, opts: ChunkStoreOptions) {
        super(chunkLength, opts.length, source)
      }
    }
  }

  put (_index: number, _buf: Uint8Array, cb: Callback = () => {}): void {
    queueMicrotask(() => cb(new Error('this store is read-only: the bytes are already complete')))
  }

  get (index: number, opts: { offset?: number, length?: number } | null | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void {
    if (typeof opts === 'function') { cb = opts; opts = null }
    const done = cb ?? (() => {})
    if (this.closed) return queueMicrotask(() => done(new Error('store is closed')))
    const chunkStart = index * this.chunkLength
    const chunkLen = Math.min(this.chunkLength, this.length - chunkStart)
    const offset = opts?.offset ?? 0
    const len = opts?.length ?? chunkLen - offset
    if (chunkStart < 0 || chunkLen <= 0 || offset < 0 || offset + len > chunkLen) {
      return queueMicrotask(() => done(new Error(`chunk ${index} (offset ${offset}, length ${len}) is out of range`)))
    }
    this.source.readAt(chunkStart + offset, len).then(buf => done(null, buf), err => done(err))
  }

  close (cb: Callback = () => {}): void {
    this.closed = true
    const closing = this.source.close?.() ?? Promise.resolve()
    closing.then(() => cb(null), err => cb(err))
  }

  /** Never deletes: the bytes belong to their owner, not to the torrent. */
  destroy (cb: Callback = () => {}): void {
    this.close(cb)
  }
}
