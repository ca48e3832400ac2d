/**
 * Where a download's verified pieces go: Blobs (the browser keeps their bytes outside the page's
 * heap and pages large ones to disk), 16 MiB of pieces per Blob. When the torrent is done the
 * file is a Blob made of those Blobs: nothing is read back or copied to save it, play it or keep
 * it in IndexedDB. WebTorrent's default browser store writes each piece to a file of its own in
 * the origin private file system, and the finished file then had to be read back piece by piece:
 * with streamed web seeds that store was the slowest part (bench/README.md).
 */
import { startGet, type Callback, type ChunkStoreOptions, type GetOptions } from '../../shared/readOnlyChunkStore.ts'

export interface BlobChunkStoreLimits {
  /** Pieces per Blob: fewer, larger Blobs cost the page less than one per piece (measured). */
  groupBytes: number
  /** Pieces of unfinished groups kept as bytes in the page, at most; beyond it each becomes a Blob. */
  looseBytes: number
}

/** Bytes of pieces per Blob; a web seed worker batches its pieces to the same bounds. */
export const GROUP_BYTES = 16 * 2 ** 20
const LIMITS: BlobChunkStoreLimits = { groupBytes: GROUP_BYTES, looseBytes: 64 * 2 ** 20 }

/** A piece: bytes from WebTorrent, a Blob of its own (spilled), or a stretch of a web seed worker's batch. */
type Part = Uint8Array<ArrayBuffer> | Blob | { batch: Blob, at: number }
interface Group { parts: Part[], count: number }

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
    this.place(index, buf)
    if (this.loose > this.limits.looseBytes) this.spill()
    queueMicrotask(() => cb(null))
  }

  private place (index: number, part: Part): void {
    const g = Math.floor(index / this.perGroup)
    if (this.done[g]) return
    let group = this.open.get(g)
    if (!group) this.open.set(g, group = { parts: [], count: 0 })
    const slot = index - g * this.perGroup
    if (group.parts[slot] === undefined) {
      group.count++
      group.parts[slot] = part
      if (part instanceof Uint8Array) this.loose += part.length
    }
    if (group.count === Math.min(this.perGroup, this.chunks - g * this.perGroup)) this.finish(g, group)
  }

  /** A full group becomes one Blob; neighbouring stretches of one batch go in as one slice. */
  private finish (g: number, group: Group): void {
    const blobParts: Array<Uint8Array<ArrayBuffer> | Blob> = []
    let run: { batch: Blob, from: number, to: number } | undefined
    const endRun = (): void => {
      if (run) blobParts.push(run.from === 0 && run.to === run.batch.size ? run.batch : run.batch.slice(run.from, run.to))
      run = undefined
    }
    group.parts.forEach((part, slot) => {
      if (part instanceof Uint8Array) this.loose -= part.length
      if (part instanceof Uint8Array || part instanceof Blob) {
        endRun()
        blobParts.push(part)
        return
      }
      const size = this.chunkSize(g * this.perGroup + slot)
      if (run?.batch === part.batch && run.to === part.at) run.to += size
      else {
        endRun()
        run = { batch: part.batch, from: part.at, to: part.at + size }
      }
    })
    endRun()
    this.done[g] = blobParts.length === 1 && blobParts[0] instanceof Blob ? blobParts[0] : new Blob(blobParts)
    this.open.delete(g)
  }

  /**
   * `count` pieces from `from` on, in one Blob (a web seed worker's verified batch). Nothing is
   * sliced or copied here: a group it fills is made of it (a batch that is a whole group is that
   * group as it is).
   */
  putPieces (from: number, count: number, blob: Blob): Error | undefined {
    if (this.closed) return new Error('store is closed')
    const end = from + count
    const bytes = from < 0 || count < 1 || end > this.chunks ? -1 : Math.min(this.length, end * this.chunkLength) - from * this.chunkLength
    if (blob.size !== bytes) return new Error(`${count} chunks from ${from} in ${blob.size} bytes do not fit this store`)
    for (let index = from; index < end; index++) this.place(index, { batch: blob, at: (index - from) * this.chunkLength })
    return undefined
  }

  /** Scattered pieces (a seek, peers sending out of order): hand the loose bytes to Blobs. */
  private spill (): void {
    for (const group of this.open.values()) {
      group.parts.forEach((part, slot) => {
        if (!(part instanceof Uint8Array)) return
        group.parts[slot] = new Blob([part])
        this.loose -= part.length
      })
    }
  }

  get (index: number, opts: GetOptions | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void {
    const asked = startGet(this.closed, index, this.chunkLength, this.length, opts, cb)
    if (!asked) return
    const { range: { size, offset, len }, done } = asked
    const g = Math.floor(index / this.perGroup)
    const slot = index - g * this.perGroup
    const stored = this.open.get(g)?.parts[slot]
    const part = this.done[g]?.slice(slot * this.chunkLength, slot * this.chunkLength + size) ??
      (stored === undefined || stored instanceof Uint8Array || stored instanceof Blob ? stored : stored.batch.slice(stored.at, stored.at + size))
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
