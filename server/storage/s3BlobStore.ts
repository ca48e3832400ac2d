/**
 * Blobs in an S3-compatible bucket (BLOB_STORE=s3), in the seed's layout under S3_PREFIX:
 *   <mediaId>/{original, manifest.json, torrent}, staging/<random>/<part> for uploads in flight,
 *   uploads/<id>/<offset> for resumable uploads (s3UploadStore.ts), public/<mediaId> for public
 *   files' copies (s3PublicObjects.ts).
 *
 * An upload is streamed to staging parts while it is hashed (s3Staging.ts). Publish, once the
 * SHA-256 is known: `original` is assembled from the parts inside the object store (a multipart
 * upload of part copies, which appears whole or not at all, whatever the size: CopyObject stops
 * at 5 GB), then manifest.json and the .torrent are written and the parts deleted. A blob is
 * stored when its `original` is there; it is removed with `original` last, so a crash at any step
 * leaves either staging parts (collected after the grace) or a stored blob that no record holds
 * (collected like any orphan). A finished resumable upload is verified already: its objects in
 * the bucket (s3UploadStore.ts) are copied into `original` like staging parts (adoptObjects), a
 * local file is uploaded straight to it (adopt, lib-storage), again all or nothing.
 *
 * Every object is written private (no ACL is ever sent). With S3_PUBLIC_URL, public files also
 * have a copy under public/ (s3PublicObjects.ts), the only prefix a bucket policy may make
 * public-readable.
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { notFound } from '../../shared/errors.ts'
import { isMediaId, type MediaManifest } from '../../shared/media.ts'
import type { S3Settings } from '../config.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import type { BlobReader, BlobStat, BlobStore, PendingBlob, StagingBlob } from './blobStore.ts'
import { S3Bucket } from './s3Bucket.ts'
import { s3BlobReader } from './s3BlobReader.ts'
import { S3PublicObjects } from './s3PublicObjects.ts'
import { S3Staging, STAGING } from './s3Staging.ts'
import { S3UploadStore } from './s3UploadStore.ts'
import { stagingHeartbeat } from './stagingHeartbeat.ts'

const MiB = 1024 * 1024
/** S3 allows 10,000 parts per object; parts are at least this (memory: about two per upload in flight). */
const MAX_PARTS = 10_000
const MIN_PART_BYTES = 8 * MiB

type BlobFile = 'original' | 'manifest.json' | 'torrent'

/** How a pending blob's bytes get to `original`, and what is left to tidy after. */
interface Publishing {
  read: () => Readable
  /** Every byte is where `publish` takes it from. */
  written: () => Promise<void>
  publish: (original: string) => Promise<void>
  /** After a commit (either way) or an abort: let go of the staged bytes. */
  release: (published: boolean) => Promise<void>
}

export class S3BlobStore implements BlobStore {
  readonly bucket: S3Bucket
  readonly publicObjects: S3PublicObjects | undefined
  private readonly partBytes: number
  /** Staging of uploads in flight in this process, by folder: never collected here, and touched for other nodes' collectors. */
  private readonly inFlight = new Map<string, S3Staging>()
  private readonly stagingGraceMs: number
  private heartbeat: NodeJS.Timeout | undefined

  /** `stagingGraceMs`: ORPHAN_BLOB_GRACE, after which untouched staging is collected (see touchInFlight). */
  constructor (settings: S3Settings, { maxUploadBytes, stagingGraceMs = 3_600_000 }: { maxUploadBytes: number, stagingGraceMs?: number }) {
    this.stagingGraceMs = stagingGraceMs
    this.bucket = new S3Bucket(settings)
    this.publicObjects = settings.publicUrl ? new S3PublicObjects(this.bucket, settings.publicUrl, mediaId => this.name(mediaId, 'original')) : undefined
    this.partBytes = Math.max(MIN_PART_BYTES, Math.ceil(maxUploadBytes / MAX_PARTS / MiB) * MiB)
  }

  async init (): Promise<{ sweptIncoming: number }> {
    // Staging parts a crash left are not swept here: another process may be using them. The
    // collector deletes them once they are older than the grace (collectStaging).
    await this.bucket.check()
    this.heartbeat = stagingHeartbeat(this.stagingGraceMs, async () => await this.touchInFlight())
    return { sweptIncoming: 0 }
  }

  /** Touch this process's uploads in flight: another node collects only staging nobody touched for the grace. */
  async touchInFlight (): Promise<void> {
    await Promise.all([...this.inFlight.values()].map(async staging => { await staging.touch().catch(() => {}) }))
  }

  async check (): Promise<void> {
    await this.bucket.check()
  }

  async close (): Promise<void> {
    clearInterval(this.heartbeat)
    this.bucket.destroy()
  }

  /** The one place ids become keys: anything but 64 lowercase hex is refused. */
  private name (mediaId: string, file: BlobFile): string {
    if (!isMediaId(mediaId)) throw notFound()
    return `${mediaId}/${file}`
  }

  location (mediaId: string): string {
    return this.bucket.url(this.name(mediaId, 'original'))
  }

  isLocation (location: string, mediaId: string): boolean {
    return isMediaId(mediaId) && location === this.location(mediaId)
  }

  async begin (): Promise<StagingBlob> {
    const staging = new S3Staging(this.bucket, this.partBytes)
    this.inFlight.set(staging.folder, staging)
    const pending = this.pending({
      // The second pass of an upload whose piece length was not known: the parts, in order.
      read: () => Readable.from((async function * (bucket: S3Bucket) {
        await staging.finish()
        for (const part of staging.parts) {
          const got = await bucket.get(part)
          if (got) yield * got.body
        }
      })(this.bucket)),
      written: async () => { await staging.finish() },
      publish: async original => { await this.bucket.compose(original, staging.parts.map(name => ({ name }))) },
      release: async () => {
        this.inFlight.delete(staging.folder)
        // Parts that cannot be deleted now are collected after the grace.
        await staging.discard().catch(() => {})
      }
    })
    return { ...pending, file: staging }
  }

  async adopt (file: string): Promise<PendingBlob> {
    return this.pending({
      read: () => createReadStream(file, { highWaterMark: MiB }),
      written: async () => {},
      publish: async original => { await this.bucket.upload(original, createReadStream(file, { highWaterMark: MiB }), this.partBytes) },
      // Published (or stored already): the bytes are the store's. Otherwise they stay where they were.
      release: async published => { if (published) await fs.rm(file, { force: true }) }
    })
  }

  /**
   * Bytes in this bucket already, as objects of at least 5 MiB each but the last (a resumable
   * upload's, s3UploadStore.ts), staged for publishing: copied into `original` inside the object
   * store. Published or not, they stay: their upload removes them once it is over.
   */
  adoptObjects (names: string[]): PendingBlob {
    const bucket = this.bucket
    return this.pending({
      read: () => Readable.from((async function * () {
        for (const name of names) {
          const got = await bucket.get(name)
          if (got) yield * got.body
        }
      })()),
      written: async () => {},
      publish: async original => { await this.bucket.compose(original, names.map(name => ({ name }))) },
      release: async () => {}
    })
  }

  uploadStore (): S3UploadStore {
    return new S3UploadStore(this.bucket, this, this.partBytes)
  }

  private pending (how: Publishing): PendingBlob {
    let settled = false
    return {
      read: how.read,
      commit: async (manifest, torrentFile) => {
        if (settled) throw new Error('pending blob already settled')
        settled = true
        let status: 'created' | 'existed'
        try {
          await how.written()
          crashPoint('staged')
          status = await this.publish(manifest, torrentFile, how.publish)
        } catch (err) {
          await how.release(false)
          throw err
        }
        await how.release(true)
        return status
      },
      abort: async () => {
        if (settled) return
        settled = true
        await how.release(false)
      }
    }
  }

  /** `original` first (the commit point), then its manifest and .torrent. */
  private async publish (manifest: MediaManifest, torrentFile: Uint8Array, publishOriginal: (original: string) => Promise<void>): Promise<'created' | 'existed'> {
    const { mediaId } = manifest
    if (await this.bucket.head(this.name(mediaId, 'original'))) {
      await this.publishedAgain(manifest)
      return 'existed'
    }
    await publishOriginal(this.name(mediaId, 'original'))
    await this.bucket.put(this.name(mediaId, 'manifest.json'), JSON.stringify(manifest, null, 2), 'application/json')
    await this.bucket.put(this.name(mediaId, 'torrent'), torrentFile, 'application/x-bittorrent')
    return 'created'
  }

  /**
   * Already stored: these bytes are a duplicate. Its manifest is written again as it was (a new
   * LastModified), so a blob nobody held waits a whole grace period before it is collected.
   */
  private async publishedAgain (manifest: MediaManifest): Promise<void> {
    const name = this.name(manifest.mediaId, 'manifest.json')
    const stored = await this.bucket.bytes(name).catch(err => { if (isNotFound(err)) return undefined; throw err })
    await this.bucket.put(name, stored ?? JSON.stringify(manifest, null, 2), 'application/json')
  }

  async has (mediaId: string): Promise<boolean> {
    return (await this.stat(mediaId)) !== undefined
  }

  async stat (mediaId: string): Promise<BlobStat | undefined> {
    if (!isMediaId(mediaId)) return undefined
    const original = await this.bucket.head(this.name(mediaId, 'original'))
    return original && { size: original.size }
  }

  async publishedAt (mediaId: string): Promise<number | undefined> {
    if (!isMediaId(mediaId)) return undefined
    const original = await this.bucket.head(this.name(mediaId, 'original'))
    if (!original) return undefined
    const manifest = await this.bucket.head(this.name(mediaId, 'manifest.json'))
    return Math.max(original.modifiedAt, manifest?.modifiedAt ?? 0)
  }

  async readManifest (mediaId: string): Promise<MediaManifest> {
    return JSON.parse((await this.bucket.bytes(this.name(mediaId, 'manifest.json'))).toString('utf8')) as MediaManifest
  }

  async readTorrent (mediaId: string): Promise<Uint8Array> {
    return await this.bucket.bytes(this.name(mediaId, 'torrent'))
  }

  async read (mediaId: string): Promise<Readable> {
    const got = await this.bucket.get(this.name(mediaId, 'original'))
    if (!got) throw notFound()
    return got.body
  }

  reader (mediaId: string): BlobReader {
    return s3BlobReader(this.bucket, () => this.name(mediaId, 'original'))
  }

  async * list (): AsyncIterable<string> {
    for await (const folder of this.bucket.folders()) {
      if (isMediaId(folder)) yield folder
    }
  }

  async remove (mediaId: string): Promise<void> {
    // The public copy first, `original` last: until it goes the blob is whole, and a crash before leaves it stored.
    await this.publicObjects?.remove(mediaId)
    await this.bucket.remove([this.name(mediaId, 'manifest.json'), this.name(mediaId, 'torrent')])
    await this.bucket.remove([this.name(mediaId, 'original')])
  }

  async collectStaging (graceMs: number): Promise<number> {
    const folders = new Map<string, { newest: number, parts: string[] }>()
    for await (const part of this.bucket.list(STAGING)) {
      const folder = part.name.split('/', 2).join('/')
      const seen = folders.get(folder) ?? { newest: 0, parts: [] }
      seen.newest = Math.max(seen.newest, part.modifiedAt)
      seen.parts.push(part.name)
      folders.set(folder, seen)
    }
    let collected = 0
    for (const [folder, { newest, parts }] of folders) {
      if (this.inFlight.has(folder) || Date.now() - newest < graceMs) continue
      await this.bucket.remove(parts)
      collected++
    }
    return collected
  }
}

function isNotFound (err: unknown): boolean {
  return (err as { status?: number }).status === 404
}
