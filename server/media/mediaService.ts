/**
 * Media use cases: take an upload, answer what is known about a file, hand out its bytes and
 * .torrent. Every read asks the access policy first; what it refuses looks exactly like a
 * missing id.
 */
import { AppError } from '../../shared/errors.ts'
import { isMediaId, type MediaManifest, type UploadResult } from '../../shared/media.ts'
import type { AccessPolicy } from '../access/accessPolicy.ts'
import type { Logger } from '../logger.ts'
import type { RecordRepository, MediaRecord } from '../records/recordRepository.ts'
import type { MediaSeeder, TorrentStatus } from '../seeder/mediaSeeder.ts'
import type { HashPool } from '../upload/hashPool.ts'
import { ingestUpload, type IngestRequest } from '../upload/ingest.ts'
import type { Catalog } from './catalog.ts'

export interface MediaServiceDeps {
  catalog: Catalog
  records: RecordRepository
  access: AccessPolicy
  seeder: MediaSeeder
  hashPool: HashPool
  maxUploadBytes: number
  log: Logger
}

export interface MediaInfo extends MediaManifest {
  httpUrl: string
  torrentUrl: string
  seeding: TorrentStatus
}

const missing = (): AppError => new AppError(404, 'not_found', 'No media with this id. Check the id, or upload the file first.')

export class MediaService {
  private readonly deps: MediaServiceDeps

  constructor (deps: MediaServiceDeps) {
    this.deps = deps
  }

  /** 201 when the caller's record is new (even if the bytes were already stored), 200 when they had it. */
  async upload (req: IngestRequest, owner = ''): Promise<{ status: 200 | 201, result: UploadResult }> {
    const { catalog, records, seeder, hashPool, maxUploadBytes, log } = this.deps
    const ingested = await ingestUpload(req, {
      store: catalog.store,
      hashPool,
      maxUploadBytes,
      transportFor: id => catalog.transport(id),
      onExisting: id => catalog.manifest(id)
    })
    const { manifest, fields } = ingested
    const { record, created } = records.ensure({
      mediaId: manifest.mediaId,
      owner,
      accessLevel: fields.accessLevel,
      name: fields.name ?? null,
      description: fields.description ?? null
    })
    if (record.accessLevel === 'public' && !seeder.getSeedingInfo(manifest.mediaId)) {
      // Stored is what matters to the uploader; a seeding hiccup is logged, not thrown.
      await seeder.seedFile(catalog.store.originalPath(manifest.mediaId), manifest.mediaId)
        .catch(err => log.error({ mediaId: manifest.mediaId, err: (err as Error).message }, 'could not start seeding'))
    }
    log.info({ mediaId: manifest.mediaId, size: manifest.fileSize, blob: ingested.status, recordCreated: created }, 'upload stored')
    return { status: created ? 201 : 200, result: this.result(manifest, record) }
  }

  /** The manifest of a file the caller may read, or the not-found error. */
  async readable (mediaId: string): Promise<MediaManifest> {
    if (!isMediaId(mediaId) || !this.deps.access.canRead(mediaId) || !await this.deps.catalog.exists(mediaId)) throw missing()
    return await this.deps.catalog.manifest(mediaId)
  }

  async info (mediaId: string): Promise<MediaInfo> {
    const manifest = await this.readable(mediaId)
    const { catalog, seeder } = this.deps
    return {
      ...manifest,
      magnetURI: catalog.magnet(manifest),
      httpUrl: catalog.httpUrl(mediaId),
      torrentUrl: catalog.torrentUrl(mediaId),
      seeding: seeder.status(mediaId)
    }
  }

  async torrent (mediaId: string): Promise<{ manifest: MediaManifest, torrentFile: Uint8Array }> {
    const manifest = await this.readable(mediaId)
    return { manifest, torrentFile: await this.deps.catalog.servedTorrent(mediaId) }
  }

  private result (manifest: MediaManifest, record: MediaRecord): UploadResult {
    const { catalog } = this.deps
    return {
      mediaId: manifest.mediaId,
      infoHash: manifest.infoHash,
      magnetURI: catalog.magnet(manifest),
      httpUrl: catalog.httpUrl(manifest.mediaId),
      torrentUrl: catalog.torrentUrl(manifest.mediaId),
      fileSize: manifest.fileSize,
      mimeType: manifest.mimeType,
      originalName: manifest.originalName,
      accessLevel: record.accessLevel,
      createdAt: manifest.createdAt
    }
  }
}
