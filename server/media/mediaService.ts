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
import type { OipRecordRepository } from '../records/oipRecordRepository.ts'
import type { MediaRecord, OwnerKey, RecordRepository, StorageUse } from '../records/recordRepository.ts'
import type { MediaSeeder, TorrentStatus, TrackerToken } from '../seeder/mediaSeeder.ts'
import type { HashPool } from '../upload/hashPool.ts'
import { ingestUpload, publishUpload, type Ingested, type IngestRequest, type StagedUpload, type UploadFields } from '../upload/ingest.ts'
import type { UploadGate } from '../upload/uploadGate.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { Catalog } from './catalog.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import { KeyedMutex } from './keyedMutex.ts'
import type { Quotas } from './quotas.ts'

export interface MediaServiceDeps {
  catalog: Catalog
  records: RecordRepository
  access: AccessPolicy
  seeder: MediaSeeder
  /** A tracker capability for the seeder's own announces of one private torrent. */
  seederTrackerToken: (infoHash: string) => Promise<TrackerToken>
  hashPool: HashPool
  maxUploadBytes: number
  /** Accept public uploads without a session (ALLOW_ANONYMOUS_UPLOADS). */
  allowAnonymousUploads: boolean
  capabilities: Capabilities
  uploadGate: UploadGate
  /** What each key may store and pin. */
  quotas: Quotas
  metrics: Metrics
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: { records: RecordRepository, oipRecords: OipRecordRepository }) => Promise<T>) => Promise<T>
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
  manifest: MediaManifest
  /** The infoHash of the torrent the server seeds for this caller. */
  infoHash: string
  /** The caller's own record, public or private. */
  own?: MediaRecord
  /** The caller's private record, when that is what they see. */
  privateRecord?: MediaRecord
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
      admitSize: bytes => quotas.admit(caller ?? '', use, bytes),
      onExisting: id => catalog.manifest(id)
    })
    return await this.stored(ingested, caller)
  }

  /** A finished resumable upload: the same publish, record and seeding as a streamed one. */
  async completeUpload (staged: StagedUpload, owner: string): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog } = this.deps
    let ingested: Ingested
    try {
      ingested = await publishUpload(staged, { transportFor: id => catalog.transport(id), onExisting: id => catalog.manifest(id) })
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
    return await this.addRecord(ingested.manifest, caller, ingested.fields, ingested.upload, ingested.status === 'existed')
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
    return await this.addRecord(manifest, caller, {
      accessLevel: accessLevel as AccessLevel,
      ...(name ? { name } : {}),
      ...(description ? { description } : {}),
      ...(torrentSalt ? { torrentSalt } : {})
    }, {
      originalName: torrentName(text('original_name', 1000) ?? manifest.originalName),
      mimeType: mimeType && SAFE_MIME.test(mimeType) ? mimeType : manifest.mimeType
    }, true)
  }

  /** 201 when the caller's record is new (even if the bytes were already stored), 200 when they had it. */
  private async addRecord (stored: MediaManifest, caller: Caller, fields: UploadFields, upload: { originalName: string, mimeType: string }, blobExisted: boolean): Promise<{ status: 200 | 201, result: UploadResult }> {
    // One at a time per file: two first public uploads would both rename the torrent, and a
    // delete of the last record could remove the blob under a new one.
    return await this.perMedia.run(stored.mediaId, async () => await this.addRecordNow(stored, caller, fields, upload, blobExisted))
  }

  private async addRecordNow (stored: MediaManifest, caller: Caller, fields: UploadFields, upload: { originalName: string, mimeType: string }, blobExisted: boolean): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog, records, quotas, log } = this.deps
    const { mediaId, fileSize } = stored
    if (!await catalog.exists(mediaId)) {
      throw new AppError(409, 'removed_meanwhile', 'The file was deleted on the server while this upload finished. Upload it again.')
    }
    const owner = caller ?? ''
    let made: Awaited<ReturnType<RecordRepository['ensure']>>
    let face: MediaManifest | undefined
    const hadPublic = await records.hasPublic(mediaId)
    const hadRecord = await records.get(mediaId, owner) !== undefined
    try {
      // Over quota: refused before the face below is touched (the record checks again, race-free).
      if (!hadRecord) await this.admitUpload(owner, fileSize)
      // The first public record makes the blob's face public: give it this upload's name first,
      // while nobody can see it yet, so no request and no crash ever shows the face as it was
      // (the neutral face of a private upload, or an earlier uploader's name). Only then the record.
      const firstPublic = fields.accessLevel === 'public' && !hadPublic && !hadRecord
      face = firstPublic && blobExisted ? await catalog.rename(mediaId, upload.originalName, upload.mimeType) : undefined
      const salt = fields.accessLevel === 'private' ? fields.torrentSalt ?? randomBytes(32).toString('hex') : null
      const privateInfoHash = salt ? (await catalog.privateTorrent(mediaId, upload.originalName, salt, { announce: [], urlList: [] })).infoHash : null
      made = await records.ensure({
        mediaId,
        owner,
        accessLevel: fields.accessLevel,
        name: fields.name ?? null,
        description: fields.description ?? null,
        originalName: upload.originalName,
        mimeType: upload.mimeType,
        torrentSalt: salt,
        privateInfoHash,
        fileSize
      }, use => quotas.admit(owner, use, fileSize))
    } catch (err) {
      // Refused (over quota) or failed: bytes just published for this upload and held by nobody go again.
      await this.removeIfHeldByNobody(mediaId, 'no record made: blob held by no record deleted')
      throw err
    }
    const { record, created } = made
    if (created && record.accessLevel === 'public' && !hadPublic) {
      await records.setPublicTorrent(mediaId, (face ?? await catalog.manifest(mediaId)).infoHash)
    }
    crashPoint('after-record')
    // Stored is what matters to the uploader; a seeding hiccup is logged, not thrown.
    await this.seed(record).catch(err => log.error({ mediaId, err: (err as Error).message }, 'could not start seeding'))
    const view = await this.view(mediaId, caller)
    return { status: created ? 201 : 200, result: await this.result(view, record) }
  }

  /** Seed what a record needs: the public torrent, or the owner's private one (built only when it goes active). */
  async seed (record: MediaRecord): Promise<void> {
    const { catalog, seeder, seederTrackerToken, access } = this.deps
    if (record.accessLevel === 'public') {
      if (!seeder.getSeedingInfo(record.mediaId)) await seeder.seedFile(catalog.store.location(record.mediaId), record.mediaId)
    } else {
      const infoHash = record.privateInfoHash!
      await seeder.seedPrivate({
        mediaId: record.mediaId,
        infoHash,
        createdAt: record.createdAt,
        // Our tracker's URLs without a capability: the seeder sends its capability with each
        // announce, so it can renew it without touching the running torrent.
        torrentFile: async () => (await catalog.privateTorrent(record.mediaId, record.originalName, record.torrentSalt!, { announce: catalog.seederTrackers, urlList: [] })).torrentFile,
        trackerToken: async () => await seederTrackerToken(infoHash),
        admits: peerId => access.admitsPeer(infoHash, peerId)
      })
    }
    if (record.pinned) await this.syncPin(record)
  }

  /**
   * Pin the caller's file (keep its torrent active in the seeder) or unpin it. Only owners may;
   * anyone else gets the not-found answer. Pins are kept in the records, so they outlive restarts.
   */
  async pin (mediaId: string, caller: Caller, pinned: boolean): Promise<{ mediaId: string, pinned: boolean, seeding: SeedingStatus }> {
    if (caller === undefined) throw loginRequired()
    const { records, seeder } = this.deps
    const record = isMediaId(mediaId) ? await records.get(mediaId, caller) : undefined
    if (!record) throw notFound()
    const infoHash = await this.seededHash(record)
    // A pin counts against the pinner's own allowance first, so no key can take the shared slots alone.
    if (pinned && !(await records.get(mediaId, caller))?.pinned) this.deps.quotas.admitPin(caller, await records.pinnedCount(caller))
    if (pinned && !seeder.canPin(infoHash)) {
      throw new AppError(409, 'pin_limit', `Pinned files may take at most ${seeder.maxPinned} of the server's active torrents (half of SEED_MAX_ACTIVE), and all are taken. Unpin another file first, or ask the operator to raise SEED_MAX_ACTIVE.`)
    }
    // Take the slot before anything awaits, so pins made at the same time cannot all pass the check.
    const activating = pinned ? seeder.setPinned(infoHash, true) : undefined
    // The record may have been deleted meanwhile.
    if (!await records.setPinned(mediaId, caller, pinned)) {
      await activating
      await this.syncPin(record)
      throw notFound()
    }
    await activating
    await this.syncPin(record)
    return { mediaId, pinned, seeding: { ...seeder.status(infoHash), pinned } }
  }

  /** Tell the seeder whether a record's torrent is pinned: a public torrent is while any public record pins it. */
  private async syncPin (record: MediaRecord): Promise<void> {
    const { records, seeder } = this.deps
    const pinned = record.accessLevel === 'public' ? await records.hasPinnedPublic(record.mediaId) : (await records.get(record.mediaId, record.owner))?.pinned === true
    await seeder.setPinned(await this.seededHash(record), pinned)
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
    const { access, catalog, records } = this.deps
    if (!isMediaId(mediaId) || !await access.canRead(mediaId, caller) || !await catalog.exists(mediaId)) throw notFound()
    const manifest = await catalog.manifest(mediaId)
    const own = caller === undefined ? undefined : await records.get(mediaId, caller)
    if (own?.accessLevel !== 'private') return { manifest, infoHash: manifest.infoHash, ...(own ? { own } : {}) }
    // A private owner sees the file as they uploaded it, whoever stored these bytes first.
    return {
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
    const { infoHash, torrentFile } = await catalog.privateTorrent(manifest.mediaId, privateRecord.originalName, privateRecord.torrentSalt!, transport)
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
      seeding: { ...seeder.status(infoHash), ...(view.own ? { pinned: view.own.pinned } : {}) }
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
  async list (caller: Caller, opts: { mine: boolean, limit: number, cursor?: number }): Promise<{ items: MediaListItem[], nextCursor: number | null }> {
    if (opts.mine && caller === undefined) throw loginRequired()
    const { records, catalog } = this.deps
    const page = { limit: opts.limit, ...(opts.cursor !== undefined ? { after: opts.cursor } : {}) }
    const rows = opts.mine ? await records.listByOwner(caller!, page) : await records.listPublic(page)
    const items: MediaListItem[] = []
    for (const r of rows) {
      const m = await catalog.manifest(r.mediaId).catch(() => undefined)
      if (!m) continue
      items.push({
        mediaId: r.mediaId,
        name: r.name,
        description: r.description,
        originalName: r.accessLevel === 'private' ? r.originalName : m.originalName,
        mimeType: r.accessLevel === 'private' ? r.mimeType : m.mimeType,
        fileSize: m.fileSize,
        infoHash: r.privateInfoHash ?? m.infoHash,
        accessLevel: r.accessLevel,
        // Other people's keys are shown only where the record is public.
        owner: r.owner === '' ? null : (opts.mine || r.accessLevel === 'public' ? r.owner : null),
        createdAt: r.createdAt
      })
    }
    return { items, nextCursor: rows.length === opts.limit ? rows[rows.length - 1]!.id : null }
  }

  /** Remove the caller's record; the bytes, torrent and seeding go when nobody holds them. */
  async remove (mediaId: string, caller: Caller): Promise<void> {
    if (caller === undefined) throw loginRequired()
    await this.perMedia.run(mediaId, async () => await this.removeNow(mediaId, caller))
  }

  /**
   * The database forgets the record in one transaction; the seeder and the blob follow. A crash
   * after the transaction leaves a torrent seeded for nobody and maybe a blob nobody holds:
   * repairSeeding and collectOrphans put both right at the next start.
   */
  private async removeNow (mediaId: string, caller: string): Promise<void> {
    const { records, seeder, transaction } = this.deps
    const record = isMediaId(mediaId) ? await records.get(mediaId, caller) : undefined
    if (!record) throw notFound()
    const stillPublic = await transaction(async tx => {
      if (!await tx.records.remove(mediaId, caller)) throw notFound()
      await tx.oipRecords.removeForMedia(mediaId, caller)
      const stillPublic = await tx.records.hasPublic(mediaId)
      if (!stillPublic) await tx.records.clearPublicTorrent(mediaId)
      return stillPublic
    })
    crashPoint('mid-delete')
    if (record.privateInfoHash) await seeder.stopPrivate(record.privateInfoHash)
    if (!stillPublic) {
      await seeder.stopSeeding(mediaId)
    } else if (record.pinned) {
      await this.syncPin(record)
    }
    await this.removeIfHeldByNobody(mediaId, 'last record removed: blob deleted')
  }

  /** Delete the blob when no record holds it any more (called under the media's mutex). */
  private async removeIfHeldByNobody (mediaId: string, why: string): Promise<void> {
    if (await this.deps.records.count(mediaId) > 0) return
    await this.deps.catalog.store.remove(mediaId)
    this.deps.log.info({ mediaId }, why)
  }

  /**
   * At start, make the seeding state agree with the records after a crash between the two:
   * a public file whose torrent never reached seeder.json is seeded, and a torrent seeded for a
   * file nobody holds publicly any more stops. Private torrents come from the records already.
   */
  async repairSeeding (): Promise<{ seeded: number, stopped: number }> {
    const { records, catalog, seeder, log } = this.deps
    for (const mediaId of await records.publicWithoutTorrent()) {
      const manifest = await catalog.manifest(mediaId).catch(() => undefined)
      if (manifest) await records.setPublicTorrent(mediaId, manifest.infoHash)
    }
    const publicIds = new Set(await records.publicMediaIds())
    let stopped = 0
    for (const { mediaId } of seeder.getAllSeeding()) {
      if (publicIds.has(mediaId)) continue
      await seeder.stopSeeding(mediaId)
      stopped++
    }
    let seeded = 0
    for (const mediaId of publicIds) {
      if (seeder.getSeedingInfo(mediaId) || !await catalog.exists(mediaId)) continue
      await seeder.seedFile(catalog.store.location(mediaId), mediaId)
        .then(() => { seeded++ }, err => log.error({ mediaId, err: (err as Error).message }, 'could not start seeding'))
    }
    if (seeded + stopped > 0) log.warn({ seeded, stopped }, 'seeding state repaired: it disagreed with the records (the last run stopped between the two)')
    return { seeded, stopped }
  }

  /**
   * Delete blobs no record holds, published more than `graceMs` ago: what a crash between
   * publish and record, or in a delete, leaves. The grace lets an upload that just published
   * make its record; a blob published again (a new upload of the same bytes) starts it anew.
   */
  async collectOrphans (graceMs: number, signal?: AbortSignal): Promise<number> {
    const { records, catalog, seeder, log } = this.deps
    let collected = 0
    for await (const mediaId of catalog.store.list()) {
      if (signal?.aborted) break
      if (await records.count(mediaId) > 0) continue
      await this.perMedia.run(mediaId, async () => {
        const publishedAt = await catalog.store.publishedAt(mediaId)
        if (await records.count(mediaId) > 0 || publishedAt === undefined || Date.now() - publishedAt < graceMs) return
        await seeder.stopSeeding(mediaId)
        await catalog.store.remove(mediaId)
        collected++
        log.warn({ mediaId }, 'collected a blob that no record holds (left by a crash or an interrupted delete)')
      })
    }
    return collected
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
