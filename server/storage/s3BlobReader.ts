/**
 * A stored object read by position (BlobReader) with ranged GETs. Reads in order continue one
 * open GET (the cursor) instead of asking again: its first range is what the first read wants
 * (a piece the seeder reads, a range a client asked for: nothing more is fetched), and each
 * range after it twice as long, up to MAX_WINDOW, so a long read costs few requests and a short
 * one reads little past its end. A read elsewhere replaces the cursor; a read while the cursor is
 * busy (the seeder reads several pieces at once) gets a GET of its own.
 */
import type { Readable } from 'node:stream'
import { blobReader } from './blobReader.ts'
import type { BlobReader } from './blobStore.ts'
import type { S3Bucket } from './s3Bucket.ts'

const MAX_WINDOW = 16 * 1024 * 1024

/** One ranged GET being read: its bytes from `next` up to `end` (exclusive) are still to come. */
class RangedGet {
  private readonly chunks: AsyncIterator<Buffer>
  private left: Buffer | undefined

  constructor (private readonly body: Readable, public next: number, readonly end: number, readonly window: number) {
    this.chunks = body[Symbol.asyncIterator]()
  }

  get done (): boolean {
    return this.next >= this.end
  }

  /** Fill `buffer` as far as this range goes; how many bytes it took. */
  async fill (buffer: Uint8Array): Promise<number> {
    let got = 0
    while (got < buffer.length && !this.done) {
      if (!this.left?.length) {
        const chunk = await this.chunks.next()
        if (chunk.done) throw new Error(`the object store ended a ranged read early, at byte ${this.next}`)
        this.left = chunk.value
      }
      const take = Math.min(this.left!.length, buffer.length - got, this.end - this.next)
      buffer.set(this.left!.subarray(0, take), got)
      this.left = this.left!.subarray(take)
      got += take
      this.next += take
    }
    return got
  }

  close (): void {
    this.body.destroy()
  }
}

export function s3BlobReader (bucket: S3Bucket, name: () => string): BlobReader {
  let cursor: RangedGet | undefined
  /** A read is using (or opening) the cursor. */
  let busy = false
  /** The object's size, once a GET has told it. */
  let size: number | undefined

  const open = async (position: number, length: number): Promise<RangedGet | undefined> => {
    const got = await bucket.get(name(), position, position + length - 1)
    if (!got) return undefined
    size = got.size
    return new RangedGet(got.body, position, Math.min(position + length, got.size), length)
  }

  const fill = async (get: RangedGet, buffer: Uint8Array): Promise<number> => {
    try {
      return await get.fill(buffer)
    } catch (err) {
      get.close()
      throw bucket.unavailable(err)
    }
  }

  return blobReader(async (buffer, position) => {
    if (buffer.length === 0 || (size !== undefined && position >= size)) return 0
    if (busy) {
      // Another read is using the cursor: this one gets a GET of exactly its bytes.
      const own = await open(position, buffer.length)
      if (!own) return 0
      try { return await fill(own, buffer) } finally { own.close() }
    }
    busy = true
    try {
      if (!cursor || cursor.next !== position || cursor.done) {
        const window = cursor?.next === position ? Math.min(MAX_WINDOW, Math.max(cursor.window * 2, buffer.length)) : buffer.length
        cursor?.close()
        cursor = undefined
        cursor = await open(position, window)
        if (!cursor) return 0
      }
      return await fill(cursor, buffer)
    } catch (err) {
      cursor = undefined
      throw err
    } finally {
      busy = false
    }
  }, async () => {
    cursor?.close()
    cursor = undefined
  })
}
