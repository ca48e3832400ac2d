/**
 * The bucket as the S3 blob store uses it: keys under S3_PREFIX, the few operations it needs, and
 * the object store's errors turned into answers (absent, not found, or 503 with what to check).
 * Requests are signed by the AWS SDK, with credentials from its default chain.
 */
import type { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCopyCommand
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { AppError, notFound } from '../../shared/errors.ts'
import type { S3Settings } from '../config.ts'

/** Copies of parts at once when an object is assembled from staged parts. */
const COPIES_AT_ONCE = 4
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000

export interface ObjectStat {
  size: number
  /** LastModified, as the object store's clock says (ms). */
  modifiedAt: number
}

/** An object, or the bytes `range` (first and last, inclusive) of it, as a part of another. */
export interface CopySource {
  name: string
  range?: [number, number]
}

export interface ListedObject extends ObjectStat {
  /** The key without S3_PREFIX. */
  name: string
}

interface SdkError {
  name?: string
  message?: string
  code?: string
  $metadata?: { httpStatusCode?: number }
}

const status = (err: unknown): number | undefined => (err as SdkError)?.$metadata?.httpStatusCode

/** What went wrong, for a person: the error's name, HTTP status and message (no credentials are in any). */
function describe (err: unknown): string {
  const e = err as SdkError
  const code = status(err)
  return [e?.name, code ? `HTTP ${code}` : undefined, e?.message && e.message !== e.name ? e.message : e?.code].filter(Boolean).join(', ')
}

export class S3Bucket {
  readonly client: S3Client
  readonly settings: S3Settings

  constructor (settings: S3Settings) {
    this.settings = settings
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.forcePathStyle,
      // No CRC32 of every part on top of the signature's SHA-256 of it (and TLS): ~15 % of a PUT's
      // time here, and S3-compatible servers that predate these checksums refuse them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Without these a dead endpoint would hold an upload or a read for ever.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 }
    })
  }

  /** The full key of a name in the store. */
  key (name: string): string {
    return this.settings.prefix + name
  }

  /** Where a name lives, for people and logs. */
  url (name: string): string {
    return `s3://${this.settings.bucket}/${this.key(name)}`
  }

  private where (): string {
    return this.settings.endpoint ? `at S3_ENDPOINT ${this.settings.endpoint}` : 'on AWS S3'
  }

  /** A failure of the object store, as the 503 its callers answer with (nothing of a failed upload is kept). */
  unavailable (err: unknown): AppError {
    if (err instanceof AppError) return err
    return new AppError(503, 'storage_unavailable', `The object store did not answer as expected (${describe(err)}). Try again later.`)
  }

  /** The bucket is there and these credentials may use it; else a 503 that says what to fix (a start stops with it). */
  async check (): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }))
    } catch (err) {
      throw new AppError(503, 'storage_unavailable', this.whyNot(err))
    }
  }

  private whyNot (err: unknown): string {
    const { bucket, region } = this.settings
    const code = status(err)
    if (code === 404) return `S3_BUCKET "${bucket}" does not exist ${this.where()}: create it, or set S3_BUCKET to an existing bucket`
    if (code === 403) return `S3_BUCKET "${bucket}" ${this.where()} refused these credentials (HTTP 403): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS SDK's other credential sources) and that they may read and write the bucket`
    if (code === 301 || code === 400) return `S3_BUCKET "${bucket}" ${this.where()} answered HTTP ${code}: it may be in another region than S3_REGION "${region}", or need S3_FORCE_PATH_STYLE=true`
    if (code) return `S3_BUCKET "${bucket}" ${this.where()} answered ${describe(err)}`
    return `The object store ${this.where()} cannot be reached (${describe(err)}): check S3_ENDPOINT and that the server is up`
  }

  /** The object's size and time; undefined when it is not there (and the bucket is). */
  async head (name: string): Promise<ObjectStat | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }))
      return { size: out.ContentLength ?? 0, modifiedAt: out.LastModified?.getTime() ?? 0 }
    } catch (err) {
      if (status(err) !== 404) throw this.unavailable(err)
    }
    // A HEAD's 404 has no body to tell a missing key from a missing bucket: only the first is "not there".
    await this.check()
    return undefined
  }

  /**
   * The object's bytes from `start` to `end` (inclusive; undefined: to its end), as a stream, and
   * the whole object's size. Not there: not found. `start` at or past the end: undefined.
   */
  async get (name: string, start = 0, end?: number): Promise<{ body: Readable, size: number } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.settings.bucket,
        Key: this.key(name),
        ...(start > 0 || end !== undefined ? { Range: `bytes=${start}-${end ?? ''}` } : {})
      }))
      const size = out.ContentRange ? Number(out.ContentRange.split('/')[1]) : out.ContentLength ?? 0
      return { body: out.Body as Readable, size }
    } catch (err) {
      if ((err as SdkError).name === 'NoSuchKey') throw notFound()
      if (status(err) === 416) return undefined
      throw this.unavailable(err)
    }
  }

  /** A small object whole (a manifest, a .torrent). */
  async bytes (name: string): Promise<Buffer> {
    const got = await this.get(name)
    if (!got) return Buffer.alloc(0)
    try {
      return Buffer.from(await (got.body as Readable & { transformToByteArray (): Promise<Uint8Array> }).transformToByteArray())
    } catch (err) {
      throw this.unavailable(err)
    }
  }

  async put (name: string, body: Uint8Array | string, contentType = 'application/octet-stream'): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name), Body: body, ContentType: contentType }))
    } catch (err) {
      throw this.unavailable(err)
    }
  }

  /** A stream of unknown length to one object (multipart when large, by lib-storage); nothing is left of a failed one. */
  async upload (name: string, body: Readable, partBytes: number): Promise<void> {
    const upload = new Upload({ client: this.client, params: { Bucket: this.settings.bucket, Key: this.key(name), Body: body }, partSize: partBytes, queueSize: 2 })
    try {
      await upload.done()
    } catch (err) {
      throw this.unavailable(err)
    }
  }

  /**
   * One object made of others (or ranges of them), in order, copied inside the object store (no
   * byte passes through here). It appears whole when the multipart upload completes, or not at
   * all. Every source but the last must be at least 5 MiB (S3's rule for parts), none over 5 GiB.
   */
  async compose (name: string, sources: CopySource[]): Promise<void> {
    const { bucket } = this.settings
    const Key = this.key(name)
    let UploadId: string | undefined
    try {
      ({ UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: 'application/octet-stream' })))
      const parts: Array<{ PartNumber: number, ETag: string | undefined }> = []
      let next = 0
      const copyNext = async (): Promise<void> => {
        while (next < sources.length) {
          const PartNumber = ++next
          const source = sources[PartNumber - 1]!
          const out = await this.client.send(new UploadPartCopyCommand({
            Bucket: bucket,
            Key,
            UploadId,
            PartNumber,
            CopySource: encodeURI(`${bucket}/${this.key(source.name)}`),
            ...(source.range ? { CopySourceRange: `bytes=${source.range[0]}-${source.range[1]}` } : {})
          }))
          parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag })
        }
      }
      await Promise.all(Array.from({ length: Math.min(COPIES_AT_ONCE, sources.length) }, copyNext))
      parts.sort((a, b) => a.PartNumber - b.PartNumber)
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts } }))
    } catch (err) {
      if (UploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId })).catch(() => {})
      throw this.unavailable(err)
    }
  }

  /** Delete these objects (absent ones count as deleted). */
  async remove (names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += DELETE_BATCH) {
      const batch = names.slice(i, i + DELETE_BATCH)
      try {
        const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: batch.map(name => ({ Key: this.key(name) })), Quiet: true } }))
        const failed = out.Errors?.[0]
        if (failed) throw new Error(`${failed.Key}: ${failed.Code} ${failed.Message}`)
      } catch (err) {
        throw this.unavailable(err)
      }
    }
  }

  /** Objects whose names start with `under`, in key order. */
  async * list (under: string): AsyncIterable<ListedObject> {
    for await (const page of this.pages(under)) {
      for (const o of page.Contents ?? []) {
        yield { name: o.Key!.slice(this.settings.prefix.length), size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 }
      }
    }
  }

  /** The "folders" right under `under` (the prefix itself, or a folder name ending in '/'): their names, without `under`. */
  async * folders (under = ''): AsyncIterable<string> {
    for await (const page of this.pages(under, '/')) {
      for (const p of page.CommonPrefixes ?? []) yield p.Prefix!.slice(this.settings.prefix.length + under.length, -1)
    }
  }

  private async * pages (under: string, delimiter?: string): AsyncIterable<{ Contents?: Array<{ Key?: string, Size?: number, LastModified?: Date }>, CommonPrefixes?: Array<{ Prefix?: string }> }> {
    let token: string | undefined
    do {
      let page
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.key(under), Delimiter: delimiter, ContinuationToken: token }))
      } catch (err) {
        throw this.unavailable(err)
      }
      yield page
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  destroy (): void {
    this.client.destroy()
  }
}
