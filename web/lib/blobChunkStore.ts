/**
 * Where a download's verified pieces go: Blobs (the browser keeps their bytes outside the page's
 * heap and pages large ones to disk), 16 MiB of pieces per Blob. When the torrent is done the
 * file is a Blob made of those Blobs: nothing is read back or copied to save it, play it or keep
 * it in IndexedDB. WebTorrent's default browser store writes each piece to a file of its own in
 * the origin private file system, and the finished file then had to be read back piece by piece:
 * with streamed web seeds that store was the slowest part (bench/README.md).
 */
import { chunkRange, type Callback, type ChunkStoreOptions, type GetOptions } from '../../shared/readOnlyChunkStore.ts'

export interface BlobChunkStoreLimits {
  /** Pieces per Blob: fewer, larger Blobs cost the page less than one per piece (measured). */
  groupBytes: number
  /** Pieces of unfinished groups kept as bytes in the page, at most; beyond it each becomes a Blob. */
  looseBytes: number
}

const LIMITS: BlobChunkStoreLimits = { groupBytes: 16 * 2 ** 20, looseBytes: 64 * 2 ** 20 }

interface Group { parts: Array<Uint8Array<ArrayBuffer> | Blob>, count: number }

export class BlobChunkStore {
  readonly chunkLength: number
  private readonly length: number
  private readonly perGroup: number
  private readonly chunks: number
  private readonly done: Blob[] = []
  private readonly open = new Map<number, Group>()
  private loose = 0
  private closed = false

  constructor (chunkLength: number, opts: ChunkStoreOptions, private readonly limits = LIMITS) {
    this.chunkLength = chunkLength
    this.length = opts.length
    this.chunks = Math.ceil(opts.length / chunkLength)
    this.perGroup = Math.max(1, Math.floor(limits.groupBytes / chunkLength))
  }

  private chunkSize (index: number): number {
    return Math.min(this.chunkLength, this.length - index * this.chunkLength)
  }

  put (index: number, buf: Uint8Array<ArrayBuffer>, cb: Callback = () => {}): void {
    if (this.closed) return queueMicrotask(() => cb(new Error('store is closed')))
    if (index < 0 || index >= this.chunks || buf.length !== this.chunkSize(index)) {
      return queueMicrotask(() => cb(new Error(`chunk ${index} of ${buf.length} bytes does not fit this store`)))
    }
    const g = Math.floor(index / this.perGroup)
    if (this.done[g]) return queueMicrotask(() => cb(null))
    let group = this.open.get(g)
    if (!group) this.open.set(g, group = { parts: [], count: 0 })
    const slot = index - g * this.perGroup
    if (!group.parts[slot]) {
      group.count++
      group.parts[slot] = buf
      this.loose += buf.length
    }
    if (group.count === Math.min(this.perGroup, this.chunks - g * this.perGroup)) {
      this.done[g] = new Blob(group.parts)
      this.open.delete(g)
      for (const part of group.parts) if (!(part instanceof Blob)) this.loose -= part.length
    } else if (this.loose > this.limits.looseBytes) {
      this.spill()
    }
    queueMicrotask(() => cb(null))
  }

  /** Scattered pieces (a seek, peers sending out of order): hand the loose bytes to Blobs. */
  private spill (): void {
    for (const group of this.open.values()) {
      group.parts.forEach((part, slot) => {
        if (part instanceof Blob) return
        group.parts[slot] = new Blob([part])
        this.loose -= part.length
      })
    }
  }

  get (index: number, opts: GetOptions | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void {
    if (typeof opts === 'function') { cb = opts; opts = null }
    const done = cb ?? (() => {})
    if (this.closed) return queueMicrotask(() => done(new Error('store is closed')))
    const range = chunkRange(index, this.chunkLength, this.length, opts)
    if (range instanceof Error) return queueMicrotask(() => done(range))
    const { size, offset, len } = range
    const g = Math.floor(index / this.perGroup)
    const slot = index - g * this.perGroup
    const part = this.done[g]?.slice(slot * this.chunkLength, slot * this.chunkLength + size) ?? this.open.get(g)?.parts[slot]
    if (!part) return queueMicrotask(() => done(new Error(`chunk ${index} is not in the store`)))
    // A copy: WebTorrent may hand the bytes on (to a peer, to the service worker) and must not change ours.
    if (!(part instanceof Blob)) return queueMicrotask(() => done(null, part.slice(offset, offset + len)))
    part.slice(offset, offset + len).arrayBuffer().then(b => done(null, new Uint8Array(b)), err => done(err as Error))
  }

  /** The whole torrent as one Blob; undefined while pieces are missing. */
  blob (type: string): Blob | undefined {
    if (this.open.size > 0 || this.done.filter(Boolean).length !== Math.ceil(this.chunks / this.perGroup)) return undefined
    return new Blob(this.done, { type })
  }

  close (cb: Callback = () => {}): void {
    this.closed = true
    queueMicrotask(() => cb(null))
  }

  destroy (cb: Callback = () => {}): void {
    this.done.length = 0
    this.open.clear()
    this.loose = 0
    this.close(cb)
  }
}

/** WebTorrent constructs its store itself: this constructor hands back the instance it made. */
export function blobChunkStore (): { Store: new (chunkLength: number, opts: ChunkStoreOptions) => BlobChunkStore, made: () => BlobChunkStore | undefined } {
  let made: BlobChunkStore | undefined
  return {
    Store: class extends BlobChunkStore {
      constructor (chunkLength: number, opts: ChunkStoreOptions) {
        super(chunkLength, opts)
        made = this
      }
    },
    made: () => made
  }
}
