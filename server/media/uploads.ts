/**
 * Uploads and claims become records: the bytes are ingested (or already stored), then the
 * caller's record, the file's row, its public face and its seeding state are written in one
 * transaction, and the new torrent is brought up.
 */
import { randomBytes } from 'node:crypto'
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import { ACCESS_LEVELS, SAFE_MIME, type AccessLevel, type MediaManifest, type UploadResult } from '../../shared/media.ts'
import { isTorrentSalt, torrentName } from '../../shared/torrent.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { BlobJournal } from '../catalog/blobJournal.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { Logger } from '../logger.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { MediaRecord, OwnerKey, RecordRepository, StorageUse } from '../records/recordRepository.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { HashPool } from '../upload/hashPool.ts'
import { ingestUpload, publishUpload, storableText, type Ingested, type IngestRequest, type StagedUpload, type UploadFields } from '../upload/ingest.ts'
import type { UploadGate } from '../upload/uploadGate.ts'
import type { Catalog } from './catalog.ts'
import type { KeyedMutex } from './keyedMutex.ts'
import type { Quotas } from './quotas.ts'
import type { Removal } from './removal.ts'
import { SeedChanges } from './seedChanges.ts'
import type { MediaViews } from './views.ts'

export interface MediaUploadsDeps {
  access: AccessPolicy
  catalog: Catalog
  records: RecordRepository
  seeder: MediaSeeder
  hashPool: HashPool
  maxUploadBytes: number
  /** Accept public uploads without a session (ALLOW_ANONYMOUS_UPLOADS). */
  allowAnonymousUploads: boolean
  uploadGate: UploadGate
  /** What each key may store and pin. */
  quotas: Quotas
  metrics: Metrics
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  /** One change at a time per file (shared with deletes and reconcile). */
  perMedia: KeyedMutex
  /** What the uploader gets back: their view of the file. */
  views: MediaViews
  /** Collects bytes no record came to hold. */
  removal: Removal
  /** Where a publish is noted before its rename (catalog/blobJournal.ts). */
  journal: BlobJournal
  log: Logger
}

/** An upload's answer: 201 when the caller's record is new (even if the bytes were already stored), 200 when they had it. */
export interface Uploaded {
  status: 200 | 201
  result: UploadResult
}

/** Who gets what of an upload: the name and type it came with, its fields, and the face for a file the database does not know yet. */
interface NewRecord {
  fields: UploadFields
  upload: { originalName: string, mimeType: string }
  /**
   * The bytes were just published: a new file's row, or the orphan grace of a known one starts
   * anew; the record's transaction takes out the publish's journal note.
   */
  published?: { manifest: MediaManifest, info: Uint8Array, journalId: number }
}

export class MediaUploads {
  private readonly deps: MediaUploadsDeps
  /** Journal notes of publishes under way here (isPublishing). */
  private readonly underWay = new Set<number>()

  constructor (deps: MediaUploadsDeps) {
    this.deps = deps
  }

  /** Refuse an upload before reading its body when no session could own it. */
  checkUploader (caller: Caller): void {
    if (caller === undefined && !this.deps.allowAnonymousUploads) throw loginRequired()
  }

  /**
   * Refuse up front a file that would take `owner` over their quota (`pending`: their unfinished
   * uploads). The record itself checks again, in the transaction that makes it.
   */
  async admitUpload (owner: OwnerKey, bytes: number, pending?: StorageUse): Promise<void> {
    const { quotas, records } = this.deps
    quotas.admit(owner, await quotas.useOf(owner, records), bytes, pending)
  }

  async upload (req: IngestRequest, caller: Caller): Promise<Uploaded> {
    this.checkUploader(caller)
    const release = await this.deps.uploadGate.enter()
    try {
      return await this.publishing(async notePublish => await this.ingest(req, caller, notePublish))
    } finally {
      release()
    }
  }

  /** A finished resumable upload: the same publish, record and seeding as a streamed one. */
  async completeUpload (staged: StagedUpload, owner: string): Promise<Uploaded> {
    const { catalog } = this.deps
    return await this.publishing(async notePublish => {
      let ingested: Ingested
      try {
        ingested = await publishUpload(staged, { transportFor: id => catalog.transport(id), notePublish })
      } catch (err) {
        await staged.pending.abort()
        throw err
      }
      return await this.stored(ingested, owner)
    })
  }

  /** A journal note of a publish this process has under way: reconcile leaves it alone (its rename may be still to come). */
  isPublishing (noteId: number): boolean {
    return this.underWay.has(noteId)
  }

  /** Run an upload's publish and record with a notePublish whose notes count as under way until it ends. */
  private async publishing<T> (fn: (notePublish: (mediaId: string) => Promise<number>) => Promise<T>): Promise<T> {
    const noted: number[] = []
    try {
      return await fn(async mediaId => {
        const id = await this.deps.journal.note(mediaId)
        noted.push(id)
        this.underWay.add(id)
        return id
      })
    } finally {
      for (const id of noted) this.underWay.delete(id)
    }
  }

  /**
   * A record for bytes the server already has and the caller may claim (public, or their own):
   * the browser asks by mediaId first and so never sends the same bytes twice. Bytes held only
   * privately by someone else answer 404, like a missing id, and must be uploaded in full, even
   * when shared with the caller: a share lends a file to read until it is revoked, a record
   * would keep it.
   */
  async claim (mediaId: string, caller: Caller, body: Record<string, unknown>): Promise<Uploaded> {
    if (caller === undefined) throw loginRequired()
    await this.deps.access.require(caller, 'claim', mediaId)
    const { manifest } = await this.deps.views.readable(mediaId, caller, { wake: false })
    const text = (key: string, max: number): string | undefined => {
      const v = body[key]
      if (v === undefined || v === null || v === '') return undefined
      if (typeof v !== 'string' || v.length > max) throw badRequest('bad_field', `"${key}" must be a string of at most ${max} characters.`)
      return storableText(key, v)
    }
    const accessLevel = body.access_level
    if (!ACCESS_LEVELS.includes(accessLevel as AccessLevel)) throw badRequest('bad_access_level', `"access_level" must be "public" or "private", got "${String(accessLevel ?? '')}".`)
    const torrentSalt = text('torrent_salt', 64)
    if (torrentSalt !== undefined && !isTorrentSalt(torrentSalt)) throw badRequest('bad_torrent_salt', '"torrent_salt" must be 64 lowercase hex characters (32 random bytes), or left out.')
    const name = text('name', 200)
    const description = text('description', 5000)
    const mimeType = text('mime_type', 255)?.toLowerCase()
    return await this.addRecord(mediaId, caller, {
      fields: {
        accessLevel: accessLevel as AccessLevel,
        ...(name ? { name } : {}),
        ...(description ? { description } : {}),
        ...(torrentSalt ? { torrentSalt } : {})
      },
      upload: {
        originalName: torrentName(text('original_name', 1000) ?? manifest.originalName),
        mimeType: mimeType && SAFE_MIME.test(mimeType) ? mimeType : manifest.mimeType
      }
    })
  }

  private async ingest (req: IngestRequest, caller: Caller, notePublish: (mediaId: string) => Promise<number>): Promise<Uploaded> {
    const { catalog, hashPool, maxUploadBytes, quotas, records } = this.deps
    // Sizes are judged as the multipart parts arrive, against what the key stored when the upload began.
    const use = await quotas.useOf(caller ?? '', records)
    const ingested = await ingestUpload(req, {
      store: catalog.store,
      hashPool,
      maxUploadBytes,
      transportFor: id => catalog.transport(id),
      notePublish,
      authorize: fields => {
        if (caller === undefined && fields.accessLevel === 'private') {
          throw new AppError(401, 'login_required', 'Private files need an owner: sign in with your key first, or upload with access_level=public.')
        }
      },
      admitSize: bytes => quotas.admit(caller ?? '', use, bytes)
    })
    return await this.stored(ingested, caller)
  }

  private async stored (ingested: Ingested, caller: Caller): Promise<Uploaded> {
    const { log, metrics } = this.deps
    metrics.bytesIngested.inc(ingested.manifest.fileSize)
    log.info({ mediaId: ingested.manifest.mediaId, size: ingested.manifest.fileSize, blob: ingested.status }, 'upload stored')
    crashPoint('after-publish')
    const { manifest, info, journalId } = ingested
    return await this.addRecord(manifest.mediaId, caller, { fields: ingested.fields, upload: ingested.upload, published: { manifest, info, journalId } })
  }

  private async addRecord (mediaId: string, caller: Caller, made: NewRecord): Promise<Uploaded> {
    // One at a time per file: a delete of the last record must not remove the blob under a new one.
    return await this.deps.perMedia.run(mediaId, async () => await this.addRecordNow(mediaId, caller, made))
  }

  /**
   * The record, the file's row, its face and its seeding state in one transaction: all of it is
   * there, or none. A crash before it leaves published bytes no row holds, collected after the
   * grace period (reconcile).
   */
  private async addRecordNow (mediaId: string, caller: Caller, made: NewRecord): Promise<Uploaded> {
    const { catalog, quotas, transaction, log } = this.deps
    const { fields, upload, published } = made
    if (!await catalog.store.has(mediaId)) {
      throw new AppError(409, 'removed_meanwhile', 'The file was deleted on the server while this upload finished. Upload it again.')
    }
    const owner = caller ?? ''
    const now = Date.now()
    const salt = fields.accessLevel === 'private' ? fields.torrentSalt ?? randomBytes(32).toString('hex') : null
    let outcome: { record: MediaRecord, created: boolean, changes?: SeedChanges }
    try {
      outcome = await transaction(async tx => {
        // The owner's lock first, as every change of records takes it, so no two changes wait on each other in a circle.
        await tx.records.lockOwner(owner)
        let blob = await tx.blobs.get(mediaId)
        if (!blob && published) {
          const { manifest, info } = published
          const row = { mediaId, fileSize: manifest.fileSize, pieceLength: manifest.pieceLength, info, name: manifest.originalName, mimeType: manifest.mimeType, infoHash: manifest.infoHash, publishedAt: now, createdAt: manifest.createdAt }
          await tx.blobs.insert(row)
          blob = { ...row, listedAt: null, missing: false }
        } else if (blob && published) {
          await tx.blobs.republished(mediaId, now)
        }
        if (published) await tx.journal.done(published.journalId)
        if (!blob) throw notFound()
        const had = await tx.records.get(mediaId, owner)
        if (had) return { record: had, created: false }
        // The first public record makes the file public: its face takes this upload's name and
        // type (a private upload stored a neutral one), in this same transaction, so nobody ever
        // sees the face as it was. Then its public torrent is seeded.
        const changes = new SeedChanges(tx, catalog)
        if (fields.accessLevel === 'public' && blob.listedAt === null) blob = await changes.list(blob, upload, now)
        const privateInfoHash = salt ? catalog.privateTorrent(blob, upload.originalName, salt, { announce: [], urlList: [] }).infoHash : null
        const { record } = await tx.records.ensure({
          mediaId,
          owner,
          accessLevel: fields.accessLevel,
          name: fields.name ?? null,
          description: fields.description ?? null,
          originalName: upload.originalName,
          mimeType: upload.mimeType,
          torrentSalt: salt,
          privateInfoHash,
          fileSize: blob.fileSize
        }, quotas.exempt(owner) ? undefined : use => quotas.admit(owner, use, blob.fileSize))
        if (privateInfoHash) await changes.seed({ infoHash: privateInfoHash, mediaId, kind: 'private', pinned: false, at: now })
        return { record, created: true, changes }
      })
    } catch (err) {
      // Refused (over quota) or failed: bytes just published for this upload and held by nobody go again.
      await this.deps.removal.removeIfHeldByNobody(mediaId, 'no record made: blob held by no record deleted')
      if (published) await this.deps.journal.done(published.journalId)
      throw err
    }
    crashPoint('after-record')
    // Stored is what matters to the uploader; a seeding hiccup is logged, not thrown.
    await outcome.changes?.follow(this.deps.seeder, this.deps.access, log)
    const { views } = this.deps
    return { status: outcome.created ? 201 : 200, result: await views.result(await views.view(mediaId, caller), outcome.record) }
  }
}
