/**
 * An upload's bytes on their way to the bucket, in the single pass that hashes them: the hash job
 * hands each batch here (in order), it is copied into a part buffer, and each full part is PUT as
 * its own staging object, staging/<random>/<part number>. Nothing is under the file's id until
 * the publish copies the parts into `<mediaId>/original` inside the object store
 * (S3Bucket.compose).
 *
 * Parts are objects, not parts of an open multipart upload, so that what a crash leaves is
 * listable and dated: the collector deletes staging folders whose newest object is older than the
 * grace. A slow upload may take longer than that between parts, so its node PUTs the folder's
 * `alive` object anew every quarter of the grace while the upload is in flight (touch). An open
 * multipart upload would be invisible to ListObjects, and not every S3-compatible server lists
 * those (ListMultipartUploads).
 */
import { randomBytes } from 'node:crypto'
import type { FileWriter } from './blobStore.ts'
import type { S3Bucket } from './s3Bucket.ts'

export const STAGING = 'staging/'
/** Parts being PUT at once per upload; the writer waits beyond that (the hash job waits with it). */
const PUTS_AT_ONCE = 2

export class S3Staging implements FileWriter {
  /** staging/<random>: the folder of this upload's parts. */
  readonly folder = `${STAGING}${randomBytes(12).toString('hex')}`
  /** Names of the parts PUT or being PUT, in order. */
  readonly parts: string[] = []
  private part: Buffer | undefined
  private filled = 0
  private size = 0
  private readonly putting = new Set<Promise<void>>()
  private failed: unknown
  private discarded = false
  private touching: Promise<void> | undefined
  private readonly alive = `${this.folder}/alive`

  constructor (private readonly bucket: S3Bucket, private readonly partBytes: number) {}

  /** Bytes taken so far. */
  get bytes (): number {
    return this.size
  }

  async write (bytes: Uint8Array, position: number): Promise<void> {
    if (this.failed) throw this.failed
    // An object is written front to back: the hash job gives batches in order, from 0.
    if (position !== this.size) throw new Error(`staged bytes must come in order: got offset ${position}, expected ${this.size}`)
    // Copied before anything waits: the caller reuses `bytes` once this resolves.
    for (let offset = 0; offset < bytes.length;) {
      this.part ??= Buffer.allocUnsafe(this.partBytes)
      const take = Math.min(this.partBytes - this.filled, bytes.length - offset)
      this.part.set(bytes.subarray(offset, offset + take), this.filled)
      this.filled += take
      offset += take
      if (this.filled === this.partBytes) this.putPart()
    }
    this.size += bytes.length
    while (this.putting.size >= PUTS_AT_ONCE && !this.failed) await Promise.race(this.putting)
    if (this.failed) throw this.failed
  }

  /** PUT what is left and wait for every part: then all the bytes are in the bucket. */
  async finish (): Promise<void> {
    if (this.filled > 0 || this.parts.length === 0) this.putPart()
    await Promise.all(this.putting)
    if (this.failed) throw this.failed
  }

  /** Mark the folder as in flight now (its `alive` object), for other nodes' collectors. */
  async touch (): Promise<void> {
    if (this.discarded) return
    this.touching = this.bucket.put(this.alive, '')
    await this.touching
  }

  /** Let the parts in flight settle, then delete every part (and the folder's `alive` object). */
  async discard (): Promise<void> {
    this.failed ??= new Error('the staged upload was discarded')
    this.discarded = true
    await Promise.all([...this.putting, this.touching?.catch(() => {})])
    await this.bucket.remove([...this.parts, this.alive])
  }

  private putPart (): void {
    const name = `${this.folder}/${String(this.parts.length + 1).padStart(5, '0')}`
    const body = this.part ? this.part.subarray(0, this.filled) : Buffer.alloc(0)
    this.parts.push(name)
    this.part = undefined
    this.filled = 0
    const put: Promise<void> = this.bucket.put(name, body)
      .catch(err => { this.failed ??= err })
      .finally(() => this.putting.delete(put))
    this.putting.add(put)
  }
}
