/**
 * Resumable uploads' bytes in the bucket (BLOB_STORE=s3), so that any node sharing the bucket and
 * the database takes an upload's next request: uploads/<id>/<offset> under S3_PREFIX, each object
 * named by the offset of its first byte (16 digits: they list in order). A request's bytes are
 * PUT as parts of the blob store's part size as they come, and what is left at its end as one
 * more object. The upload's bytes are the chain of objects from offset 0, each starting where the
 * one before ends; objects off the chain or past the acknowledged offset are what a failed or
 * killed request left, deleted by the next request before it writes.
 *
 * Finished, the chain is copied into `<mediaId>/original` inside the object store (a multipart
 * upload of part copies), so every object but the last must be at least 5 MiB (S3's rule for
 * parts): a request that starts after a smaller last object (its request sent less) reads that
 * object back and writes it again with its own bytes after it, under the same name. PATCHes of
 * the part size or more (the web app sends 16 MiB) write every byte once and read none.
 *
 * A new upload gets an empty object at offset 0, so an upload with no objects is one whose bytes
 * are lost. Nothing here is repaired at start: another node may be writing (`shared`).
 */
import { Readable } from 'node:stream'
import { notFound } from '../../shared/errors.ts'
import type { BlobStore, PendingBlob } from './blobStore.ts'
import type { S3BlobStore } from './s3BlobStore.ts'
import type { S3Bucket } from './s3Bucket.ts'
import type { Appender, StoredUpload, UploadStore } from './uploadStore.ts'

export const UPLOADS = 'uploads/'
const ID = /^[0-9a-f]{32}$/
/** S3's smallest part (but the last) of a multipart upload, which the publish's copy is. */
const MIN_PART = 5 * 1024 * 1024
/** Parts being PUT at once per request; the writer waits beyond that (the hash job waits with it). */
const PUTS_AT_ONCE = 2

interface Piece {
  name: string
  start: number
  size: number
}

export class S3UploadStore implements UploadStore {
  readonly shared = true

  constructor (private readonly bucket: S3Bucket, private readonly blobs: S3BlobStore, private readonly partBytes: number) {}

  private folder (id: string): string {
    // The one place upload ids become keys.
    if (!ID.test(id)) throw notFound('No such upload. It may have expired or been finished; start a new upload.')
    return `${UPLOADS}${id}/`
  }

  private name (id: string, start: number): string {
    return `${this.folder(id)}${String(start).padStart(16, '0')}`
  }

  /** Every object of the upload in offset order, and the chain of its bytes from 0 among them. */
  private async pieces (id: string): Promise<{ all: Piece[], chain: Piece[], end: number }> {
    const all: Piece[] = []
    for await (const o of this.bucket.list(this.folder(id))) {
      const start = Number(o.name.slice(this.folder(id).length))
      if (Number.isSafeInteger(start)) all.push({ name: o.name, start, size: o.size })
    }
    const chain: Piece[] = []
    let end = 0
    for (const piece of all) {
      if (piece.start !== end) continue
      chain.push(piece)
      end += piece.size
    }
    return { all, chain, end }
  }

  async init (): Promise<void> {
    await this.bucket.check()
  }

  async * list (): AsyncIterable<StoredUpload> {
    for await (const id of this.bucket.folders(UPLOADS)) {
      if (ID.test(id)) yield { id }
    }
  }

  async create (id: string): Promise<void> {
    await this.bucket.put(this.name(id, 0), new Uint8Array(0))
  }

  async size (id: string): Promise<number> {
    const { all, end } = await this.pieces(id)
    if (all.length === 0) throw notFound('The upload\'s bytes are gone.')
    return end
  }

  async append (id: string, offset: number): Promise<Appender> {
    const { all, chain, end } = await this.pieces(id)
    if (all.length === 0 || end < offset) throw new Error(`the bucket holds ${end} of this upload's ${offset} acknowledged bytes`)
    // The chain's piece holding byte offset - 1 (or the empty first one): carried into this request's first part when it is too small to stay a part, or runs past the offset.
    const last = chain.findLast(p => p.start < offset) ?? chain[0]
    const carry = last && (last.start + last.size > offset || offset - last.start < MIN_PART) ? last : undefined
    const start = carry?.start ?? offset
    const kept = new Set(chain.filter(p => p.start + p.size <= offset && p !== carry).map(p => p.name))
    // Before anything is written: a name this request writes may be among them.
    await this.bucket.remove(all.filter(p => !kept.has(p.name) && p !== carry).map(p => p.name))
    const appender = new ObjectAppender(this.bucket, this.partBytes, start, (at: number) => this.name(id, at))
    if (carry) await appender.take(await this.bytesOf(carry, offset - carry.start), carry.size !== offset - carry.start)
    return appender
  }

  /** The first `length` bytes of a piece. */
  private async bytesOf (piece: Piece, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0)
    const got = await this.bucket.get(piece.name, 0, length - 1)
    if (!got) return new Uint8Array(0)
    return await collect(got.body, length)
  }

  async truncate (id: string, size: number): Promise<void> {
    await (await this.append(id, size)).close()
  }

  read (id: string, end: number): Readable {
    const pieces = async (): Promise<Piece[]> => (await this.pieces(id)).chain
    const bucket = this.bucket
    return Readable.from((async function * () {
      for (const piece of await pieces()) {
        if (piece.start >= end) return
        if (piece.size === 0) continue
        const got = await bucket.get(piece.name, 0, Math.min(piece.size, end - piece.start) - 1)
        if (got) yield * got.body
      }
    })())
  }

  /** A PUT is durable once answered. */
  async sync (): Promise<void> {}

  async handOver (id: string, blobs: BlobStore): Promise<PendingBlob> {
    if (blobs !== this.blobs) throw new Error('uploads in a bucket are published to the blob store of that bucket')
    const { chain } = await this.pieces(id)
    return this.blobs.adoptObjects(chain.map(p => p.name))
  }

  /** Never listed with an older version's record. */
  async removeLegacy (): Promise<void> {}

  async remove (id: string): Promise<void> {
    const names: string[] = []
    for await (const o of this.bucket.list(this.folder(id))) names.push(o.name)
    await this.bucket.remove(names)
  }
}

/**
 * One request's bytes, front to back from `start`: copied into a part buffer, each full part PUT
 * under the name of its first byte's offset, the rest at close.
 */
class ObjectAppender implements Appender {
  private part: Buffer | undefined
  private filled = 0
  /** Offset of the part buffer's first byte. */
  private partStart: number
  /** The part buffer differs from what its name holds in the bucket. */
  private changed = false
  private readonly putting = new Set<Promise<void>>()
  private failed: unknown
  private closed: Promise<void> | undefined

  constructor (private readonly bucket: S3Bucket, private readonly partBytes: number, start: number, private readonly name: (start: number) => string) {
    this.partStart = start
  }

  /** The carried piece's bytes, first; `changed`: they are not all of it (it is cut back). */
  async take (bytes: Uint8Array, changed: boolean): Promise<void> {
    await this.write(bytes, this.partStart)
    this.changed = changed
  }

  async write (bytes: Uint8Array, position: number): Promise<void> {
    if (this.failed) throw this.failed
    if (position !== this.partStart + this.filled) throw new Error(`bytes must come in order: got offset ${position}, expected ${this.partStart + this.filled}`)
    // Copied before anything waits: the caller reuses `bytes` once this resolves.
    for (let offset = 0; offset < bytes.length;) {
      this.part ??= Buffer.allocUnsafe(this.partBytes)
      const take = Math.min(this.partBytes - this.filled, bytes.length - offset)
      this.part.set(bytes.subarray(offset, offset + take), this.filled)
      this.filled += take
      this.changed = true
      offset += take
      if (this.filled === this.partBytes) this.putPart()
    }
    while (this.putting.size >= PUTS_AT_ONCE && !this.failed) await Promise.race(this.putting)
    if (this.failed) throw this.failed
  }

  /** PUT what is left and wait for every part: then the bytes are in the bucket. Once; again, the same answer. */
  async close (): Promise<void> {
    this.closed ??= (async () => {
      if (this.changed && !this.failed) this.putPart()
      await Promise.all(this.putting)
      if (this.failed) throw this.failed
    })()
    await this.closed
  }

  private putPart (): void {
    const body = this.part ? this.part.subarray(0, this.filled) : Buffer.alloc(0)
    const name = this.name(this.partStart)
    this.partStart += this.filled
    this.part = undefined
    this.filled = 0
    this.changed = false
    const put: Promise<void> = this.bucket.put(name, body)
      .catch(err => { this.failed ??= err })
      .finally(() => this.putting.delete(put))
    this.putting.add(put)
  }
}

async function collect (body: Readable, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let at = 0
  for await (const chunk of body) {
    out.set(chunk as Buffer, at)
    at += (chunk as Buffer).length
  }
  if (at !== length) throw new Error(`the object store sent ${at} of ${length} bytes`)
  return out
}
