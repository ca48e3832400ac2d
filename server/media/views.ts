/**
 * What one caller sees of a file: a private torrent (their own, or the one of a record shared
 * with them: its owner's name, a .torrent carrying the caller's own capabilities) or the public
 * one, as info, .torrent and bytes. Every read asks the access policy first; what it refuses
 * looks exactly like a missing id.
 */
import { notFound } from '../../shared/errors.ts'
import type { MediaManifest, UploadResult } from '../../shared/media.ts'
import { magnetURI } from '../../shared/torrent.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { Capabilities } from '../auth/capabilities.ts'
import type { BlobRow } from '../catalog/blobRepository.ts'
import type { RecordThumbnails } from '../records/recordThumbnails.ts'
import type { MediaRecord, RecordRepository } from '../records/recordRepository.ts'
import type { MediaSeeder, TorrentStatus } from '../seeder/mediaSeeder.ts'
import type { ServedTorrent } from '../seeder/servedBytes.ts'
import type { Catalog } from './catalog.ts'

export interface MediaViewsDeps {
  access: AccessPolicy
  catalog: Catalog
  capabilities: Capabilities
  seeder: MediaSeeder
  /** Which thumbnail a view shows. */
  thumbnails: RecordThumbnails
  /** Whose name a public file shows. */
  records: Pick<RecordRepository, 'firstPublic'>
}

/** A torrent's seeding status; `pinned` (the caller's own pin) only for a caller with a record. */
export type SeedingStatus = TorrentStatus & { pinned?: boolean }

export interface MediaInfo extends MediaManifest {
  /**
   * The name the file is shown by, null when its record gives none: a private view's record's,
   * else the first public record's, as the public listing shows it (originalName is the torrent's
   * file name, which stays as the first public upload named it, so its infoHash, its swarm and
   * every signed record naming it stay valid).
   */
  name: string | null
  httpUrl: string
  torrentUrl: string
  accessLevel: MediaRecord['accessLevel']
  seeding: SeedingStatus
  /** The mediaId of the file's thumbnail (shared/thumbnail.ts), read through the same door as the file; null when it has none. */
  thumbnail: string | null
}

/** A file's bytes as one caller may read them over HTTP. */
export interface ReadableBytes {
  manifest: MediaManifest
  private: boolean
  onSent: (bytes: number) => void
}

/** What one caller sees of a media: a private torrent (their own, or one shared with them), or the public one. */
export interface View {
  blob: BlobRow
  manifest: MediaManifest
  /** The infoHash of the torrent the server seeds for this caller. */
  infoHash: string
  /** Who sees it (the key its capabilities are issued to). */
  caller: Caller
  /** The caller's own record, public or private. */
  own?: MediaRecord
  /** The private record the caller sees the file through, when they do: their own, or one shared with them. */
  privateRecord?: MediaRecord
}

export class MediaViews {
  private readonly deps: MediaViewsDeps

  constructor (deps: MediaViewsDeps) {
    this.deps = deps
  }

  /**
   * The caller's view: their private torrent when their record is private, the owner's private
   * torrent when they read it through a share, else the public one.
   */
  async view (mediaId: string, caller: Caller): Promise<View> {
    const { access, catalog } = this.deps
    const { own, shared } = await access.require(caller, 'read', mediaId)
    const blob = await catalog.blob(mediaId)
    if (!blob) throw notFound()
    const manifest = catalog.manifestOf(blob)
    const privateRecord = own?.accessLevel === 'private' ? own : shared
    if (!privateRecord) return { blob, manifest, infoHash: manifest.infoHash, caller, ...(own ? { own } : {}) }
    // A private record shows the file as its owner uploaded it, whoever stored these bytes first.
    return {
      blob,
      manifest: { ...manifest, originalName: privateRecord.originalName, mimeType: privateRecord.mimeType, createdAt: privateRecord.createdAt },
      infoHash: privateRecord.privateInfoHash!,
      caller,
      ...(own ? { own } : {}),
      privateRecord
    }
  }

  /**
   * The manifest of a file as the caller may see it, or the not-found error. `private`: what is
   * served is the caller's private view (their name for the file), which no shared cache may
   * keep, whoever else holds the same bytes publicly. `wake`: its bytes are about to be sent, so
   * its torrent is wanted (a HEAD wants nothing). `onSent` counts the bytes sent for the torrent
   * the caller sees (a recipient's download counts for the owner's private torrent).
   */
  async readable (mediaId: string, caller: Caller, opts: { wake: boolean }): Promise<ReadableBytes> {
    const { manifest, infoHash, privateRecord } = await this.view(mediaId, caller)
    const { seeder } = this.deps
    // The bytes go out over HTTP at once; the torrent comes up beside them.
    if (opts.wake) void seeder.want(infoHash)
    const served: ServedTorrent = privateRecord ? { infoHash, mediaId, kind: 'private', owner: privateRecord.owner } : { infoHash, mediaId, kind: 'public' }
    return { manifest, private: privateRecord !== undefined, onSent: bytes => seeder.served.count(served, 'http', bytes) }
  }

  /** The web seed door of a private torrent: the capability in the URL stands in for the session. */
  async webseed (mediaId: string, token: string, opts: { wake: boolean }): Promise<ReadableBytes> {
    const caller = await this.deps.access.webseedCaller(mediaId, token)
    if (caller === undefined) throw notFound()
    return await this.readable(mediaId, caller, opts)
  }

  async info (mediaId: string, caller: Caller): Promise<MediaInfo> {
    const view = await this.view(mediaId, caller)
    const { catalog, seeder } = this.deps
    const { infoHash, magnetURI } = await this.torrentFor(view)
    const named = view.privateRecord ?? await this.deps.records.firstPublic(mediaId)
    return {
      ...view.manifest,
      name: named?.name ?? null,
      infoHash,
      magnetURI,
      httpUrl: catalog.httpUrl(mediaId),
      torrentUrl: catalog.torrentUrl(mediaId),
      accessLevel: view.privateRecord ? 'private' : 'public',
      seeding: { ...await seeder.status(infoHash), ...(view.own ? { pinned: view.own.pinned } : {}) },
      thumbnail: await this.thumbnail(view)
    }
  }

  /**
   * The thumbnail the record behind the view names: a private record's (the caller's own, or
   * the one shared with them), else the caller's own public record's, else the newest public
   * record's that names one.
   */
  private async thumbnail ({ manifest, privateRecord, own }: View): Promise<string | null> {
    const { thumbnails } = this.deps
    const owner = (privateRecord ?? own)?.owner
    const mine = owner === undefined ? null : await thumbnails.shown(manifest.mediaId, { owner })
    return mine ?? (privateRecord ? null : await thumbnails.shown(manifest.mediaId, 'public'))
  }

  /** The .torrent the caller should use; `private` when it is a private torrent (it carries the caller's capabilities). */
  async torrent (mediaId: string, caller: Caller): Promise<{ manifest: MediaManifest, torrentFile: Uint8Array, private: boolean }> {
    const view = await this.view(mediaId, caller)
    // Up before the .torrent goes out, so the swarm the client joins has the server in it.
    await this.deps.seeder.want(view.infoHash)
    return { manifest: view.manifest, torrentFile: (await this.torrentFor(view)).torrentFile, private: view.privateRecord !== undefined }
  }

  /** What an upload or a claim answers: the caller's view of the file, under their record. */
  async result (view: View, record: MediaRecord): Promise<UploadResult> {
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

  /** infoHash, magnet and .torrent as this caller should use them. */
  private async torrentFor (view: View): Promise<{ infoHash: string, magnetURI: string, torrentFile: Uint8Array }> {
    const { catalog, capabilities } = this.deps
    const { manifest, privateRecord } = view
    if (!privateRecord) {
      return { infoHash: manifest.infoHash, magnetURI: catalog.magnet(manifest), torrentFile: await catalog.servedTorrent(manifest.mediaId) }
    }
    // Issued to the caller, owner or recipient: every door checks, at use, that this key may still read.
    const sub = view.caller!
    const transport = catalog.privateTransport(manifest.mediaId,
      await capabilities.issue('tracker', { sub, infoHash: privateRecord.privateInfoHash! }),
      await capabilities.issue('webseed', { sub, mediaId: manifest.mediaId }))
    const { infoHash, torrentFile } = catalog.privateTorrent(view.blob, privateRecord.originalName, privateRecord.torrentSalt!, transport)
    return { infoHash, magnetURI: magnetURI(infoHash, manifest.originalName, transport), torrentFile }
  }
}
