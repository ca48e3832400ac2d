/**
 * The media use cases the routes call, each done in its own file: uploads and claims (uploads),
 * what a caller sees of a file (views), pins, listing, shares, deletes (removal), and making the
 * blob store agree with the database (catalog/reconcile). They share one lock per file, so a record
 * made, a delete and a collected folder never interleave on the same file.
 */
import { loginRequired } from '../../shared/errors.ts'
import type { KeyUsage, MediaListItem, MediaManifest, OwnedListItem, ServedFile, SharedListItem, ShareView } from '../../shared/media.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { Capabilities } from '../auth/capabilities.ts'
import type { BlobRepository } from '../catalog/blobRepository.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { ListingPosition } from '../catalog/listingCursor.ts'
import type { BlobJournal } from '../catalog/blobJournal.ts'
import { reconcileAll, reconcileNoted, reconcileOne, type ReconcileDeps, type Reconciled } from '../catalog/reconcile.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { OwnerKey, RecordRepository, StorageUse } from '../records/recordRepository.ts'
import type { RecordThumbnails } from '../records/recordThumbnails.ts'
import type { ShareRepository } from '../records/shareRepository.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { HashPool } from '../upload/hashPool.ts'
import type { IngestRequest, StagedUpload } from '../upload/ingest.ts'
import type { UploadGate } from '../upload/uploadGate.ts'
import type { Catalog } from './catalog.ts'
import { KeyedMutex } from './keyedMutex.ts'
import { Edits } from './edits.ts'
import { Listing, type ListingDeps, type ListingQuery } from './listing.ts'
import { Pins } from './pins.ts'
import type { Quotas } from './quotas.ts'
import { Removal } from './removal.ts'
import { servedFiles } from './servedFiles.ts'
import { Shares } from './shares.ts'
import { MediaUploads, type Uploaded } from './uploads.ts'
import { MediaViews, type MediaInfo, type ReadableBytes, type SeedingStatus } from './views.ts'

export interface MediaServiceDeps {
  catalog: Catalog
  records: RecordRepository
  shares: ShareRepository
  /** The thumbnails signed records name. */
  thumbnails: RecordThumbnails
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
  /** Folders a crash may have left disagreeing with their rows (catalog/blobJournal.ts). */
  journal: BlobJournal
  /** How long a folder no row holds is kept (ORPHAN_BLOB_GRACE). */
  orphanGraceMs: number
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  log: Logger
  /** Where the owner's current record of each file went on the OIP network (My files). */
  publications?: ListingDeps['publications']
}

export class MediaService {
  private readonly deps: MediaServiceDeps
  private readonly perMedia = new KeyedMutex()
  private readonly views: MediaViews
  private readonly uploads: MediaUploads
  private readonly removal: Removal
  private readonly pins: Pins
  private readonly listing: Listing
  private readonly edits: Edits
  private readonly shares: Shares

  constructor (deps: MediaServiceDeps) {
    this.deps = deps
    const { perMedia } = this
    this.views = new MediaViews(deps)
    this.removal = new Removal({ ...deps, perMedia })
    this.uploads = new MediaUploads({ ...deps, perMedia, views: this.views, removal: this.removal })
    this.pins = new Pins(deps)
    this.listing = new Listing(deps)
    this.edits = new Edits({ ...deps, perMedia, listing: this.listing })
    this.shares = new Shares({ ...deps, perMedia })
  }

  checkUploader (caller: Caller): void {
    this.uploads.checkUploader(caller)
  }

  async admitUpload (owner: OwnerKey, bytes: number, pending?: StorageUse): Promise<void> {
    await this.uploads.admitUpload(owner, bytes, pending)
  }

  async upload (req: IngestRequest, caller: Caller): Promise<Uploaded> {
    return await this.uploads.upload(req, caller)
  }

  async completeUpload (staged: StagedUpload, owner: string): Promise<Uploaded> {
    return await this.uploads.completeUpload(staged, owner)
  }

  async claim (mediaId: string, caller: Caller, body: Record<string, unknown>): Promise<Uploaded> {
    return await this.uploads.claim(mediaId, caller, body)
  }

  async pin (mediaId: string, caller: Caller, pinned: boolean): Promise<{ mediaId: string, pinned: boolean, seeding: SeedingStatus }> {
    return await this.pins.pin(mediaId, caller, pinned)
  }

  async readable (mediaId: string, caller: Caller, opts: { wake: boolean }): Promise<ReadableBytes> {
    return await this.views.readable(mediaId, caller, opts)
  }

  async info (mediaId: string, caller: Caller): Promise<MediaInfo> {
    return await this.views.info(mediaId, caller)
  }

  async torrent (mediaId: string, caller: Caller): Promise<{ manifest: MediaManifest, torrentFile: Uint8Array, private: boolean }> {
    return await this.views.torrent(mediaId, caller)
  }

  async webseed (mediaId: string, token: string, opts: { wake: boolean }): Promise<ReadableBytes> {
    return await this.views.webseed(mediaId, token, opts)
  }

  /** Bytes sent since start, by source, of the files this caller may see (the dashboard). */
  async servedFiles (caller: Caller, limit: number): Promise<ServedFile[]> {
    return await servedFiles(this.deps, caller, limit)
  }

  async list (caller: Caller, opts: ListingQuery): Promise<{ items: MediaListItem[], nextCursor: string | null }> {
    return await this.listing.list(caller, opts)
  }

  /** The caller edits their record: name, description, tags, access level. */
  async edit (mediaId: string, caller: Caller, body: Record<string, unknown>): Promise<OwnedListItem> {
    return await this.edits.edit(mediaId, caller, body)
  }

  /** What the caller stores and pins, against their quotas. */
  async usage (caller: Caller): Promise<KeyUsage> {
    if (caller === undefined) throw loginRequired()
    return await this.deps.quotas.usageOf(caller, this.deps.records)
  }

  async sharedWithMe (caller: Caller, opts: { limit: number, cursor?: ListingPosition }): Promise<{ items: SharedListItem[], nextCursor: string | null }> {
    return await this.listing.sharedWithMe(caller, opts)
  }

  async listShares (mediaId: string, caller: Caller): Promise<{ shares: ShareView[] }> {
    return await this.shares.list(mediaId, caller)
  }

  async share (mediaId: string, caller: Caller, recipient: string, body: Record<string, unknown>): Promise<ShareView> {
    return await this.shares.put(mediaId, caller, recipient, body)
  }

  async revokeShare (mediaId: string, caller: Caller, recipient: string): Promise<void> {
    await this.shares.revoke(mediaId, caller, recipient)
  }

  async remove (mediaId: string, caller: Caller): Promise<void> {
    await this.removal.remove(mediaId, caller)
  }

  /**
   * See catalog/reconcile.ts: the folders the journal names, or (`all`) every folder and row;
   * under the same per-file lock as records and deletes.
   */
  async reconcile (graceMs: number, opts: { all: boolean, signal?: AbortSignal }): Promise<Reconciled> {
    return await (opts.all ? reconcileAll : reconcileNoted)(this.reconcileDeps(), graceMs, opts.signal)
  }

  /** A read found the file's bytes gone from the store: its row is marked missing, and logged. */
  bytesGone (mediaId: string): void {
    reconcileOne(this.reconcileDeps(), mediaId, this.deps.orphanGraceMs)
      .catch(err => this.deps.log.warn({ mediaId, err: (err as Error).message }, 'could not mark a file whose bytes are gone as missing'))
  }

  private reconcileDeps (): ReconcileDeps {
    const { catalog, blobs, journal, log } = this.deps
    return { store: catalog.store, blobs, journal, perMedia: this.perMedia, publishing: id => this.uploads.isPublishing(id), log }
  }
}
