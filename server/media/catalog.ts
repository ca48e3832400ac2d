/**
 * A stored file as clients see it: its manifest and its .torrent, built from its row in the
 * database (blobRepository.ts), with the trackers and web seed this server advertises for it.
 */
import bencode from 'bencode'
import { notFound } from '../../shared/errors.ts'
import { isMediaId, type MediaManifest } from '../../shared/media.ts'
import { infoHashOf, magnetURI, renamedInfo, torrentFromInfo, type BuiltTorrent, type TorrentTransport } from '../../shared/torrent.ts'
import type { BlobRepository, BlobRow } from '../catalog/blobRepository.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { sha1 } from '../upload/nodeHashers.ts'
import type { PublicCopies } from './publicCopies.ts'

export interface CatalogOptions {
  store: BlobStore
  blobs: BlobRepository
  publicUrl: string
  extraTrackers: string[]
  /** Base URLs of mirrors of the public files (CDN_URLS). */
  cdnUrls?: string[]
  /** What the seeder's announces to our tracker carry to be known as the seeder's (see seederTrackers). */
  seederKey: string
  /** Public files' copies that anyone reads from the bucket (S3_PUBLIC_URL), kept as their listing says. */
  publicCopies?: PublicCopies
}

/** A face to give a stored file: its name and type, and the info dict that now hashes to its infoHash. */
export interface Face {
  name: string
  mimeType: string
  info: Uint8Array
  infoHash: string
  createdAt: string
}

const decodeInfo = (info: Uint8Array): Record<string, unknown> => bencode.decode(info) as Record<string, unknown>

export class Catalog {
  readonly store: BlobStore
  private readonly blobs: BlobRepository
  private readonly publicUrl: string
  private readonly trackers: string[]
  private readonly ownTrackers: string[]
  private readonly seederKey: string
  private readonly cdnUrls: string[]
  readonly publicCopies: PublicCopies | undefined

  constructor (opts: CatalogOptions) {
    this.store = opts.store
    this.blobs = opts.blobs
    this.publicUrl = opts.publicUrl
    const ws = opts.publicUrl.replace(/^http/, 'ws')
    // Browsers use the ws tracker, other clients the http one; extra trackers after ours.
    this.ownTrackers = [`${ws}/announce`, `${opts.publicUrl}/announce`]
    this.trackers = [...new Set([...this.ownTrackers, ...opts.extraTrackers])]
    this.seederKey = opts.seederKey
    this.cdnUrls = opts.cdnUrls ?? []
    this.publicCopies = opts.publicCopies
  }

  get announce (): string[] {
    return this.trackers
  }

  /**
   * Our tracker's URLs as the seeder announces to them (never handed out): they carry its key,
   * so the tracker takes the seeder's peer id from the seeder alone. The key goes in the URL, not
   * in the announce, which would also reach the extra trackers.
   */
  get seederTrackers (): string[] {
    return this.ownTrackers.map(url => `${url}?seeder=${this.seederKey}`)
  }

  /** What the seeder announces a public torrent to: seederTrackers, then the extra trackers. */
  get seederAnnounce (): string[] {
    return [...this.seederTrackers, ...this.trackers.filter(url => !this.ownTrackers.includes(url))]
  }

  httpUrl (mediaId: string): string {
    return `${this.publicUrl}/api/media/${mediaId}`
  }

  torrentUrl (mediaId: string): string {
    return `${this.publicUrl}/api/media/${mediaId}/torrent`
  }

  /**
   * Trackers plus this server as a BEP 19 web seed, so any client can fall back to HTTP, then the
   * file's public copy in the bucket (S3_PUBLIC_URL: no node in the path) and the mirrors (a CDN):
   * they serve the file when this server cannot. Magnets also say where the .torrent is, here
   * and on the mirrors. Only public files get this transport; private ones never name a mirror
   * (privateTransport). Web seeds are outside the info dict: adding one changes no infoHash.
   */
  transport (mediaId: string): TorrentTransport {
    const mirrors = this.cdnUrls.map(base => `${base}/api/media/${mediaId}`)
    const bucket = this.publicCopies ? [this.publicCopies.url(mediaId)] : []
    return {
      announce: this.trackers,
      urlList: [this.httpUrl(mediaId), ...bucket, ...mirrors],
      sources: [this.torrentUrl(mediaId), ...mirrors.map(url => `${url}/torrent`)]
    }
  }

  /** The magnet link with today's trackers and web seed. */
  magnet (manifest: Pick<MediaManifest, 'mediaId' | 'infoHash' | 'originalName'>): string {
    return magnetURI(manifest.infoHash, manifest.originalName, this.transport(manifest.mediaId))
  }

  /** The stored file's row, unless it is unknown or its bytes are missing (never served). */
  async blob (mediaId: string): Promise<BlobRow | undefined> {
    if (!isMediaId(mediaId)) return undefined
    const row = await this.blobs.get(mediaId)
    return row && !row.missing ? row : undefined
  }

  async exists (mediaId: string): Promise<boolean> {
    return await this.blob(mediaId) !== undefined
  }

  async manifest (mediaId: string): Promise<MediaManifest> {
    const row = await this.blob(mediaId)
    if (!row) throw notFound()
    return this.manifestOf(row)
  }

  manifestOf (row: BlobRow): MediaManifest {
    return {
      mediaId: row.mediaId,
      originalName: row.name,
      mimeType: row.mimeType,
      fileSize: row.fileSize,
      infoHash: row.infoHash,
      magnetURI: this.magnet({ mediaId: row.mediaId, infoHash: row.infoHash, originalName: row.name }),
      pieceLength: row.pieceLength,
      createdAt: row.createdAt
    }
  }

  /** The .torrent as handed out: the stored info dict with today's trackers and web seed. */
  async servedTorrent (mediaId: string): Promise<Uint8Array> {
    const row = await this.blob(mediaId)
    if (!row) throw notFound()
    return torrentFromInfo(decodeInfo(row.info), this.transport(mediaId), sha1).torrentFile
  }

  /** The public torrent as the seeder seeds it: announced to our tracker with its key, and the extra trackers; the server is its own web seed. */
  seederTorrent (row: BlobRow): Uint8Array {
    return torrentFromInfo(decodeInfo(row.info), { announce: this.seederAnnounce, urlList: [] }, sha1).torrentFile
  }

  /** A private record's torrent: the stored pieces under the owner's file name, private, with the record's salt. */
  privateTorrent (row: BlobRow, name: string, salt: string, transport: TorrentTransport): BuiltTorrent {
    return torrentFromInfo(renamedInfo(decodeInfo(row.info), name, salt), transport, sha1)
  }

  /**
   * The face a stored file takes at its first public upload: that upload's name and type. A
   * private upload stores a neutral face (ingest.ts), and an earlier public uploader's name may
   * linger after their record went; nothing seeds the public torrent before then, so changing
   * its infoHash disturbs no swarm. The caller writes it in the record's transaction.
   */
  renamedFace (row: BlobRow, name: string, mimeType: string): Face {
    const info = renamedInfo(decodeInfo(row.info), name)
    return { name, mimeType, info: bencode.encode(info), infoHash: infoHashOf(info, sha1), createdAt: new Date().toISOString() }
  }

  /**
   * Trackers (ours only, never a third party's) and web seed URLs that carry the owner's
   * capabilities.
   */
  privateTransport (mediaId: string, trackerToken: string, webseedToken: string): TorrentTransport {
    const q = `?token=${encodeURIComponent(trackerToken)}`
    return {
      announce: this.ownTrackers.map(url => `${url}${q}`),
      urlList: [`${this.httpUrl(mediaId)}/seed/${webseedToken}`]
    }
  }
}
