/**
 * Public files' copies in the bucket, for S3_PUBLIC_URL: public/<mediaId> under S3_PREFIX, the
 * one prefix an operator's bucket policy lets anyone read (README: "Web seeds from the bucket").
 * The blob itself (<mediaId>/original) stays private whatever its file's access: a file made
 * private loses its copy, so its bytes stop being public, and reads by nodes never race a move.
 * A copy is made inside the object store (a multipart upload of part copies: whole or not at
 * all, at any size).
 */
import { isMediaId } from '../../shared/media.ts'
import type { PublicObjects } from './blobStore.ts'
import type { CopySource, S3Bucket } from './s3Bucket.ts'

export const PUBLIC = 'public/'
/** S3 copies at most this much in one part. */
const MAX_COPY_PART = 5 * 1024 ** 3

export class S3PublicObjects implements PublicObjects {
  /** `original`: the name of a blob's bytes in the bucket. */
  constructor (private readonly bucket: S3Bucket, private readonly publicUrl: string, private readonly original: (mediaId: string) => string) {}

  private name (mediaId: string): string {
    if (!isMediaId(mediaId)) throw new Error(`not a media id: ${mediaId}`)
    return `${PUBLIC}${mediaId}`
  }

  url (mediaId: string): string {
    return `${this.publicUrl}/${this.bucket.key(this.name(mediaId))}`
  }

  async put (mediaId: string): Promise<void> {
    const name = this.name(mediaId)
    if (await this.bucket.head(name)) return
    const original = await this.bucket.head(this.original(mediaId))
    if (!original) return
    const sources: CopySource[] = []
    for (let start = 0; start < original.size; start += MAX_COPY_PART) {
      sources.push({ name: this.original(mediaId), range: [start, Math.min(original.size, start + MAX_COPY_PART) - 1] })
    }
    await this.bucket.compose(name, sources)
  }

  async remove (mediaId: string): Promise<void> {
    await this.bucket.remove([this.name(mediaId)])
  }

  async * list (): AsyncIterable<string> {
    for await (const { name } of this.bucket.list(PUBLIC)) {
      const mediaId = name.slice(PUBLIC.length)
      if (isMediaId(mediaId)) yield mediaId
    }
  }
}
