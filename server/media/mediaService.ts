/**
 * Media use cases: take an upload, answer what is known about a file, hand out its bytes and
 * .torrent, list and delete. Every read asks the access policy first; what it refuses looks
 * exactly like a missing id.
 */
import { randomBytes } from 'node:crypto'
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import { ACCESS_LEVELS, isMediaId, SAFE_MIME, type AccessLevel, type MediaManifest, type UploadResult } from '../../shared/media.ts'
import { isTorrentSalt, magnetURI, torrentName } from '../../shared/torrent.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { Capabilities } from '../auth/capabilities.ts'
import type { Logger } from '../logger.ts'
import type { BlobRepository, BlobRow } from '../catalog/blobRepository.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import { encodeCursor, type ListingPosition } from '../catalog/listingCursor.ts'
import type { MediaRecord, OwnerKey, RecordRepository, StorageUse } from '../records/recordRepository.ts'
import type { MediaSeeder, TorrentStatus } from '../seeder/mediaSeeder.ts'
import type { HashPool } from '../upload/hashPool.ts'
import { ingestUpload, publishUpload, type Ingested, type IngestRequest, type StagedUpload, type UploadFields } from '../upload/ingest.ts'
import type { UploadGate } from '../upload/uploadGate.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { Catalog } from './catalog.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import { KeyedMutex } from './keyedMutex.ts'
import type { Quotas } from './quotas.ts'

/** Rows and folders compared per step when reconciling the store with the database. */
const RECONCILE_PAGE = 500

export interface MediaServiceDeps {
  catalog: Catalog
  records: RecordRepository
  access: AccessPolicy
  seeder: MediaSeeder
  hashPool: HashPool
  maxUploadBytes: number
  /** Accept public uploads without a session (ALLOW_ANONYMOUS_UPLOADS). */
  allowAnonymousUploads: boolean
  capabilities: Capabilities
  uploadGate: UploadGate
  /** What each key may store and pin. */
  quotas: Quotas
  metrics: Metrics
  blobs: BlobRepository
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  log: Logger
}

/** A torrent's seeding status; `pinned` (the caller's own pin) only for a caller with a record. */
export type SeedingStatus = TorrentStatus & { pinned?: boolean }

export interface MediaInfo extends MediaManifest {
  httpUrl: string
  torrentUrl: string
  accessLevel: MediaRecord['accessLevel']
  seeding: SeedingStatus
}

/** What one caller sees of a media: their own private torrent, or the public one. */
interface View {
  blob: BlobRow
  manifest: MediaManifest
  /** The infoHash of the torrent the server seeds for this caller. */
  infoHash: string
  /** The caller's own record, public or private. */
  own?: MediaRecord
  /** The caller's private record, when that is what they see. */
  privateRecord?: MediaRecord
}

/** Who gets what of an upload: the name and type it came with, its fields, and the face for a file the database does not know yet. */
interface NewRecord {
  fields: UploadFields
  upload: { originalName: string, mimeType: string }
  /** The bytes were just published: a new file's row, or the orphan grace of a known one starts anew. */
  published?: { manifest: MediaManifest, info: Uint8Array }
}

export interface MediaListItem {
  mediaId: string
  name: string | null
  description: string | null
  originalName: string
  mimeType: string
  fileSize: number
  infoHash: string
  accessLevel: MediaRecord['accessLevel']
  owner: string | null
  createdAt: string
}


export class MediaService {
  private readonly deps: MediaServiceDeps
  private readonly perMedia = new KeyedMutex()

  constructor (deps: MediaServiceDeps) {
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
    this.deps.quotas.admit(owner, await this.deps.records.usage(owner), bytes, pending)
  }

  /** 201 when the caller's record is new (even if the bytes were already stored), 200 when they had it. */
  async upload (req: IngestRequest, caller: Caller): Promise<{ status: 200 | 201, result: UploadResult }> {
    this.checkUploader(caller)
    const release = await this.deps.uploadGate.enter()
    try {
      return await this.ingest(req, caller)
    } finally {
      release()
    }
  }

  private async ingest (req: IngestRequest, caller: Caller): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog, hashPool, maxUploadBytes, quotas, records } = this.deps
    // Sizes are judged as the multipart parts arrive, against what the key stored when the upload began.
    const use = await records.usage(caller ?? '')
    const ingested = await ingestUpload(req, {
      store: catalog.store,
      hashPool,
      maxUploadBytes,
      transportFor: id => catalog.transport(id),
      authorize: fields => {
        if (caller === undefined && fields.accessLevel === 'private') {
          throw new AppError(401, 'login_required', 'Private files need an owner: sign in with your key first, or upload with access_level=public.')
        }
      },
      admitSize: bytes => quotas.admit(caller ?? '', use, bytes)
    })
    return await this.stored(ingested, caller)
  }

  /** A finished resumable upload: the same publish, record and seeding as a streamed one. */
  async completeUpload (staged: StagedUpload, owner: string): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog } = this.deps
    let ingested: Ingested
    try {
      ingested = await publishUpload(staged, { transportFor: id => catalog.transport(id) })
    } catch (err) {
      await staged.pending.abort()
      throw err
    }
    return await this.stored(ingested, owner)
  }

  private async stored (ingested: Ingested, caller: Caller): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { log, metrics } = this.deps
    metrics.bytesIngested.inc(ingested.manifest.fileSize)
    log.info({ mediaId: ingested.manifest.mediaId, size: ingested.manifest.fileSize, blob: ingested.status }, 'upload stored')
    crashPoint('after-publish')
    return await this.addRecord(ingested.manifest.mediaId, caller, { fields: ingested.fields, upload: ingested.upload, published: { manifest: ingested.manifest, info: ingested.info } })
  }

  /**
   * A record for bytes the server already has and the caller may read (public, or their own):
   * the browser asks by mediaId first and so never sends the same bytes twice. Bytes held only
   * privately by someone else answer 404, like a missing id, and must be uploaded in full.
   */
  async claim (mediaId: string, caller: Caller, body: Record<string, unknown>): Promise<{ status: 200 | 201, result: UploadResult }> {
    if (caller === undefined) throw loginRequired()
    const { manifest } = await this.readable(mediaId, caller, { wake: false })
    const text = (key: string, max: number): string | undefined => {
      const v = body[key]
      if (v === undefined || v === null || v === '') return undefined
      if (typeof v !== 'string' || v.length > max) throw badRequest('bad_field', `"${key}" must be a string of at most ${max} characters.`)
      return v
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

  /** 201 when the caller's record is new (even if the bytes were already stored), 200 when they had it. */
  private async addRecord (mediaId: string, caller: Caller, made: NewRecord): Promise<{ status: 200 | 201, result: UploadResult }> {
    // One at a time per file: a delete of the last record must not remove the blob under a new one.
    return await this.perMedia.run(mediaId, async () => await this.addRecordNow(mediaId, caller, made))
  }

  /**
   * The record, the file's row, its face and its seeding state in one transaction: all of it is
   * there, or none. A crash before it leaves published bytes no row holds, collected after the
   * grace period (reconcile).
   */
  private async addRecordNow (mediaId: string, caller: Caller, made: NewRecord): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog, quotas, transaction, log } = this.deps
    const { fields, upload, published } = made
    if (!await catalog.store.has(mediaId)) {
      throw new AppError(409, 'removed_meanwhile', 'The file was deleted on the server while this upload finished. Upload it again.')
    }
    const owner = caller ?? ''
    const now = Date.now()
    const salt = fields.accessLevel === 'private' ? fields.torrentSalt ?? randomBytes(32).toString('hex') : null
    let outcome: { record: MediaRecord, created: boolean, seeded?: string, listed: boolean }
    try {
      outcome = await transaction(async tx => {
        let blob = await tx.blobs.get(mediaId)
        if (!blob && published) {
          const { manifest, info } = published
          const row = { mediaId, fileSize: manifest.fileSize, pieceLength: manifest.pieceLength, info, name: manifest.originalName, mimeType: manifest.mimeType, infoHash: manifest.infoHash, publishedAt: now, createdAt: manifest.createdAt }
          await tx.blobs.insert(row)
          blob = { ...row, listedAt: null, missing: false }
        } else if (blob && published) {
          await tx.blobs.republished(mediaId, now)
        }
        if (!blob) throw notFound()
        const had = await tx.records.get(mediaId, owner)
        if (had) return { record: had, created: false, listed: false }
        quotas.admit(owner, await tx.records.usage(owner), blob.fileSize)
        // The first public record makes the file public: its face takes this upload's name and
        // type (a private upload stored a neutral one), in this same transaction, so nobody ever
        // sees the face as it was. Then its public torrent is seeded.
        const listed = fields.accessLevel === 'public' && blob.listedAt === null
        if (listed) {
          if (blob.name !== upload.originalName || blob.mimeType !== upload.mimeType) {
            const face = catalog.renamedFace(blob, upload.originalName, upload.mimeType)
            await tx.blobs.setFace(mediaId, face)
            blob = { ...blob, ...face }
            crashPoint('in-record-transaction')
          }
          await tx.blobs.setListed(mediaId, now)
          await tx.seeds.add({ infoHash: blob.infoHash, mediaId, kind: 'public', pinned: false, at: now })
        }
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
        })
        if (privateInfoHash) await tx.seeds.add({ infoHash: privateInfoHash, mediaId, kind: 'private', pinned: false, at: now })
        return { record, created: true, listed, seeded: privateInfoHash ?? (listed ? blob.infoHash : undefined) }
      })
    } catch (err) {
      // Refused (over quota) or failed: bytes just published for this upload and held by nobody go again.
      await this.removeIfHeldByNobody(mediaId, 'no record made: blob held by no record deleted')
      throw err
    }
    crashPoint('after-record')
    if (outcome.listed) this.deps.seeder.snapshot.changed()
    // Stored is what matters to the uploader; a seeding hiccup is logged, not thrown.
    if (outcome.seeded) await this.deps.seeder.start(outcome.seeded).catch(err => log.error({ mediaId, err: (err as Error).message }, 'could not start seeding'))
    const view = await this.view(mediaId, caller)
    return { status: outcome.created ? 201 : 200, result: await this.result(view, outcome.record) }
  }

  /**
   * Pin the caller's file (keep its torrent active in the seeder) or unpin it. Only owners may;
   * anyone else gets the not-found answer. Pins are kept in the database, so they outlive restarts.
   * A public torrent is pinned while any public record pins it.
   */
  async pin (mediaId: string, caller: Caller, pinned: boolean): Promise<{ mediaId: string, pinned: boolean, seeding: SeedingStatus }> {
    if (caller === undefined) throw loginRequired()
    const { records, seeder, transaction, quotas } = this.deps
    const record = (await this.deps.access.require(caller, 'own', mediaId)).own!
    // A pin counts against the pinner's own allowance first, so no key can take the shared slots alone.
    if (pinned && !record.pinned) quotas.admitPin(caller, await records.pinnedCount(caller))
    const infoHash = await this.seededHash(record)
    const seedPinned = await transaction(async tx => {
      // The record may have been deleted meanwhile.
      if (!await tx.records.setPinned(mediaId, caller, pinned)) throw notFound()
      const seedPinned = record.accessLevel === 'public' ? await tx.records.hasPinnedPublic(mediaId) : pinned
      const seed = await tx.seeds.get(infoHash)
      // Counted in the transaction, so pins made at the same time cannot all pass the check.
      if (seedPinned && seed?.pinned === false && await tx.seeds.pinnedCount() >= seeder.maxPinned) {
        throw new AppError(409, 'pin_limit', `Pinned files may take at most ${seeder.maxPinned} of the server's active torrents (half of SEED_MAX_ACTIVE), and all are taken. Unpin another file first, or ask the operator to raise SEED_MAX_ACTIVE.`)
      }
      await tx.seeds.setPinned(infoHash, seedPinned)
      return seedPinned
    })
    await seeder.setPinned(infoHash, seedPinned)
    return { mediaId, pinned, seeding: { ...await seeder.status(infoHash), pinned } }
  }

  /** The infoHash of the torrent the server seeds for a record. */
  private async seededHash (record: MediaRecord): Promise<string> {
    return record.privateInfoHash ?? (await this.deps.catalog.manifest(record.mediaId)).infoHash
  }

  /**
   * The manifest of a file as the caller may see it, or the not-found error. `private`: what is
   * served is the caller's private view (their name for the file), which no shared cache may
   * keep, whoever else holds the same bytes publicly. `wake`: its bytes are about to be sent, so
   * its torrent is wanted (a HEAD wants nothing).
   */
  async readable (mediaId: string, caller: Caller, opts: { wake: boolean }): Promise<{ manifest: MediaManifest, private: boolean }> {
    const { manifest, infoHash, privateRecord } = await this.view(mediaId, caller)
    // The bytes go out over HTTP at once; the torrent comes up beside them.
    if (opts.wake) void this.deps.seeder.want(infoHash)
    return { manifest, private: privateRecord !== undefined }
  }

  /** The caller's view: their private torrent when their record is private, else the public one. */
  private async view (mediaId: string, caller: Caller): Promise<View> {
    const { access, catalog } = this.deps
    const { own } = await access.require(caller, 'read', mediaId)
    const blob = await catalog.blob(mediaId)
    if (!blob) throw notFound()
    const manifest = catalog.manifestOf(blob)
    if (own?.accessLevel !== 'private') return { blob, manifest, infoHash: manifest.infoHash, ...(own ? { own } : {}) }
    // A private owner sees the file as they uploaded it, whoever stored these bytes first.
    return {
      blob,
      manifest: { ...manifest, originalName: own.originalName, mimeType: own.mimeType, createdAt: own.createdAt },
      infoHash: own.privateInfoHash!,
      own,
      privateRecord: own
    }
  }

  /** infoHash, magnet and .torrent as this caller should use them. */
  private async torrentFor (view: View): Promise<{ infoHash: string, magnetURI: string, torrentFile: Uint8Array }> {
    const { catalog, capabilities } = this.deps
    const { manifest, privateRecord } = view
    if (!privateRecord) {
      return { infoHash: manifest.infoHash, magnetURI: catalog.magnet(manifest), torrentFile: await catalog.servedTorrent(manifest.mediaId) }
    }
    const sub = privateRecord.owner
    const transport = catalog.privateTransport(manifest.mediaId,
      await capabilities.issue('tracker', { sub, infoHash: privateRecord.privateInfoHash! }),
      await capabilities.issue('webseed', { sub, mediaId: manifest.mediaId }))
    const { infoHash, torrentFile } = catalog.privateTorrent(view.blob, privateRecord.originalName, privateRecord.torrentSalt!, transport)
    return { infoHash, magnetURI: magnetURI(infoHash, manifest.originalName, transport), torrentFile }
  }

  async info (mediaId: string, caller: Caller): Promise<MediaInfo> {
    const view = await this.view(mediaId, caller)
    const { catalog, seeder } = this.deps
    const { infoHash, magnetURI } = await this.torrentFor(view)
    return {
      ...view.manifest,
      infoHash,
      magnetURI,
      httpUrl: catalog.httpUrl(mediaId),
      torrentUrl: catalog.torrentUrl(mediaId),
      accessLevel: view.privateRecord ? 'private' : 'public',
      seeding: { ...await seeder.status(infoHash), ...(view.own ? { pinned: view.own.pinned } : {}) }
    }
  }

  /** The .torrent the caller should use; `private` when it is their private torrent (it carries capabilities). */
  async torrent (mediaId: string, caller: Caller): Promise<{ manifest: MediaManifest, torrentFile: Uint8Array, private: boolean }> {
    const view = await this.view(mediaId, caller)
    // Up before the .torrent goes out, so the swarm the client joins has the server in it.
    await this.deps.seeder.want(view.infoHash)
    return { manifest: view.manifest, torrentFile: (await this.torrentFor(view)).torrentFile, private: view.privateRecord !== undefined }
  }

  /** The web seed door of a private torrent: the capability in the URL stands in for the session. */
  async webseed (mediaId: string, token: string, opts: { wake: boolean }): Promise<{ manifest: MediaManifest, private: boolean }> {
    const caller = await this.deps.access.webseedCaller(mediaId, token)
    if (caller === undefined) throw notFound()
    return await this.readable(mediaId, caller, opts)
  }

  /** The caller's own media (`mine`), else every public file; newest first, paged by cursor. */
  async list (caller: Caller, opts: { mine: boolean, limit: number, cursor?: ListingPosition }): Promise<{ items: MediaListItem[], nextCursor: string | null }> {
    if (opts.mine && caller === undefined) throw loginRequired()
    const { records, catalog } = this.deps
    const items: MediaListItem[] = []
    let last: ListingPosition | undefined
    if (opts.mine) {
      const rows = await records.listByOwner(caller!, opts.limit, opts.cursor)
      for (const r of rows) {
        const blob = await catalog.blob(r.mediaId)
        if (blob) items.push(this.listItem(r, blob, r.accessLevel === 'private' ? r : undefined, true))
      }
      const end = rows[rows.length - 1]
      if (end && rows.length === opts.limit) last = { at: end.createdAt, mediaId: end.mediaId }
    } else {
      const after = opts.cursor && { listedAt: Number(opts.cursor.at), mediaId: opts.cursor.mediaId }
      const blobs = await this.deps.blobs.listed(opts.limit, after && Number.isFinite(after.listedAt) ? after : undefined)
      for (const blob of blobs) {
        const first = await records.firstPublic(blob.mediaId)
        if (first && !blob.missing) items.push(this.listItem(first, blob, undefined, false))
      }
      const end = blobs[blobs.length - 1]
      if (end && blobs.length === opts.limit) last = { at: String(end.listedAt), mediaId: end.mediaId }
    }
    return { items, nextCursor: last ? encodeCursor(last) : null }
  }

  /** A listed file: its face, or the owner's own name and torrent for their private record. */
  private listItem (r: MediaRecord, blob: BlobRow, privateRecord: MediaRecord | undefined, mine: boolean): MediaListItem {
    return {
      mediaId: r.mediaId,
      name: r.name,
      description: r.description,
      originalName: privateRecord?.originalName ?? blob.name,
      mimeType: privateRecord?.mimeType ?? blob.mimeType,
      fileSize: blob.fileSize,
      infoHash: privateRecord?.privateInfoHash ?? blob.infoHash,
      accessLevel: r.accessLevel,
      // Other people's keys are shown only where the record is public.
      owner: r.owner === '' ? null : (mine || r.accessLevel === 'public' ? r.owner : null),
      createdAt: r.createdAt
    }
  }

  /** Remove the caller's record; the bytes, torrent and seeding go when nobody holds them. */
  async remove (mediaId: string, caller: Caller): Promise<void> {
    if (caller === undefined) throw loginRequired()
    await this.perMedia.run(mediaId, async () => await this.removeNow(mediaId, caller))
  }

  /**
   * One transaction forgets the record, its OIP records, its seeding state, and the file's row
   * when nobody holds it any more; the seeder and the bytes follow. A crash after the
   * transaction leaves a folder no row holds, collected by reconcile.
   */
  private async removeNow (mediaId: string, caller: string): Promise<void> {
    const { seeder, transaction, catalog, log, access } = this.deps
    await access.require(caller, 'own', mediaId)
    const { dropped, pinned, unlisted, heldByNobody } = await transaction(async tx => {
      const record = await tx.records.get(mediaId, caller)
      if (!record || !await tx.records.remove(mediaId, caller)) throw notFound()
      await tx.oipRecords.removeForMedia(mediaId, caller)
      const blob = await tx.blobs.get(mediaId)
      const dropped: string[] = []
      let pinned: { infoHash: string, pinned: boolean } | undefined
      let unlisted = false
      if (record.privateInfoHash) {
        await tx.seeds.remove(record.privateInfoHash)
        dropped.push(record.privateInfoHash)
      } else if (blob && !await tx.records.hasPublic(mediaId)) {
        // The last public record went: the file is no longer public, nor its torrent seeded.
        await tx.blobs.setListed(mediaId, null)
        await tx.seeds.remove(blob.infoHash)
        dropped.push(blob.infoHash)
        unlisted = true
      } else if (blob && record.pinned) {
        pinned = { infoHash: blob.infoHash, pinned: await tx.records.hasPinnedPublic(mediaId) }
        await tx.seeds.setPinned(pinned.infoHash, pinned.pinned)
      }
      const heldByNobody = await tx.records.count(mediaId) === 0
      if (heldByNobody) await tx.blobs.remove(mediaId)
      return { dropped, pinned, unlisted, heldByNobody }
    })
    crashPoint('mid-delete')
    for (const infoHash of dropped) await seeder.drop(infoHash)
    if (unlisted) seeder.snapshot.changed()
    if (pinned) await seeder.setPinned(pinned.infoHash, pinned.pinned)
    if (heldByNobody) {
      await catalog.store.remove(mediaId)
      log.info({ mediaId }, 'last record removed: blob deleted')
    }
  }

  /** Delete a file no record holds: its row, then its bytes (called under the media's mutex). */
  private async removeIfHeldByNobody (mediaId: string, why: string): Promise<void> {
    const gone = await this.deps.transaction(async tx => {
      if (await tx.records.count(mediaId) > 0) return false
      await tx.blobs.remove(mediaId)
      return true
    })
    if (!gone || !await this.deps.catalog.store.has(mediaId)) return
    await this.deps.catalog.store.remove(mediaId)
    this.deps.log.info({ mediaId }, why)
  }

  /**
   * Make the blob store and the database agree, a page at a time, in the background: a folder
   * no row holds (a crash between publish and record, or in a delete) is deleted once it was
   * published more than `graceMs` ago, and a row whose bytes are gone is marked missing (never
   * served, reported) until they are back.
   */
  async reconcile (graceMs: number, signal?: AbortSignal): Promise<{ collected: number, missing: number }> {
    const { catalog, blobs, log } = this.deps
    let collected = 0
    let batch: string[] = []
    const collect = async (): Promise<void> => {
      const known = await blobs.known(batch)
      for (const mediaId of batch) {
        if (known.has(mediaId) || signal?.aborted) continue
        await this.perMedia.run(mediaId, async () => {
          const publishedAt = await catalog.store.publishedAt(mediaId)
          if (await blobs.get(mediaId) || publishedAt === undefined || Date.now() - publishedAt < graceMs) return
          await catalog.store.remove(mediaId)
          collected++
          log.warn({ mediaId }, 'collected a blob that no record holds (left by a crash or an interrupted delete)')
        })
      }
      batch = []
    }
    for await (const mediaId of catalog.store.list()) {
      if (signal?.aborted) break
      batch.push(mediaId)
      if (batch.length >= RECONCILE_PAGE) await collect()
    }
    await collect()
    for (let after = ''; !signal?.aborted;) {
      const page = await blobs.page(RECONCILE_PAGE, after)
      for (const row of page) {
        const present = await catalog.store.has(row.mediaId)
        if (present === !row.missing) continue
        await blobs.setMissing(row.mediaId, !present)
        if (!present) log.error({ mediaId: row.mediaId }, 'a stored file\'s bytes are missing from MEDIA_DIR: it is not served until they are back')
      }
      if (page.length < RECONCILE_PAGE) break
      after = page[page.length - 1]!.mediaId
    }
    return { collected, missing: await blobs.missingCount() }
  }

  private async result (view: View, record: MediaRecord): Promise<UploadResult> {
    const { catalog } = this.deps
    const { manifest } = view
    const { infoHash, magnetURI } = await this.torrentFor(view)
    return {
      mediaId: manifest.mediaId,
      infoHash,
      magnetURI,
      httpUrl: catalog.httpUrl(manifest.mediaId),
      torrentUrl: catalog.torrentUrl(manifest.mediaId),
      fileSize: manifest.fileSize,
      mimeType: manifest.mimeType,
      originalName: manifest.originalName,
      accessLevel: record.accessLevel,
      owner: record.owner === '' ? null : record.owner,
      createdAt: manifest.createdAt
    }
  }
}
