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

export type Callback<T = void> = (err: Error | null, value?: T) => void

export interface ChunkStoreOptions { length: number }

/** What an abstract-chunk-store `get` may ask for: part of a chunk, or all of it. */
export type GetOptions = { offset?: number, length?: number } | null

/**
 * Where `get(index, opts)` reads in a store of `length` bytes cut into `chunkLength` chunks: the
 * chunk's start and size, and the offset and length within it; or the error saying it is out of range.
 */
export function chunkRange (index: number, chunkLength: number, length: number, opts: GetOptions): { start: number, size: number, offset: number, len: number } | Error {
  const start = index * chunkLength
  const size = index >= 0 && start < length ? Math.min(chunkLength, length - start) : 0
  const offset = opts?.offset ?? 0
  const len = opts?.length ?? size - offset
  if (size === 0 || offset < 0 || len < 0 || offset + len > size) {
    return new Error(`chunk ${index} (offset ${offset}, length ${len}) is out of range`)
  }
  return { start, size, offset, len }
}

/**
 * The start of a store's `get`: the optional `opts`, a closed store and the range checked. An
 * error is called back (never synchronously) and gives undefined; else the range and the callback.
 */
export function startGet (closed: boolean, index: number, chunkLength: number, length: number, opts: GetOptions | Callback<Uint8Array>, cb?: Callback<Uint8Array>):
{ range: Exclude<ReturnType<typeof chunkRange>, Error>, done: Callback<Uint8Array> } | undefined {
  if (typeof opts === 'function') { cb = opts; opts = null }
  const done = cb ?? (() => {})
  const range = closed ? new Error('store is closed') : chunkRange(index, chunkLength, length, opts)
  if (!(range instanceof Error)) return { range, done }
  queueMicrotask(() => done(range))
  return undefined
}

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

  get (index: number, opts: GetOptions | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void {
    const asked = startGet(this.closed, index, this.chunkLength, this.length, opts, cb)
    if (!asked) return
    const { range, done } = asked
    this.source.readAt(range.start + range.offset, range.len).then(buf => done(null, buf), err => done(err))
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
