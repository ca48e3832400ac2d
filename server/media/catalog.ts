/**
 * What the server knows about each stored blob: its manifest and its .torrent, read from the
 * blob store and repaired when damaged (a lost manifest is rebuilt from the torrent, a lost
 * torrent from the bytes), plus the trackers and web seed this server advertises for it.
 */
import bencode from 'bencode'
import { notFound } from '../../shared/errors.ts'
import { isMediaId, type MediaManifest } from '../../shared/media.ts'
import { buildTorrent, infoHashOf, magnetURI, renamedInfo, torrentFromInfo, withTransport, type BuiltTorrent, type TorrentTransport } from '../../shared/torrent.ts'
import type { Logger } from '../logger.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { hashPieces } from '../upload/contentHasher.ts'
import { sha1 } from '../upload/nodeHashers.ts'

export interface CatalogOptions {
  store: BlobStore
  publicUrl: string
  extraTrackers: string[]
  /** Base URLs of mirrors of the public files (CDN_URLS). */
  cdnUrls?: string[]
  /** What the seeder's announces to our tracker carry to be known as the seeder's (see seederTrackers). */
  seederKey: string
  log: Logger
}

interface DecodedInfo {
  name: Uint8Array
  length: number
  'piece length': number
  pieces: Uint8Array
}

const decoder = new TextDecoder()

export class Catalog {
  readonly store: BlobStore
  private readonly publicUrl: string
  private readonly trackers: string[]
  private readonly ownTrackers: string[]
  private readonly seederKey: string
  private readonly cdnUrls: string[]
  private readonly log: Logger

  constructor (opts: CatalogOptions) {
    this.store = opts.store
    this.publicUrl = opts.publicUrl
    const ws = opts.publicUrl.replace(/^http/, 'ws')
    // Browsers use the ws tracker, other clients the http one; extra trackers after ours.
    this.ownTrackers = [`${ws}/announce`, `${opts.publicUrl}/announce`]
    this.trackers = [...new Set([...this.ownTrackers, ...opts.extraTrackers])]
    this.seederKey = opts.seederKey
    this.cdnUrls = opts.cdnUrls ?? []
    this.log = opts.log
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
   * Trackers plus this server as a BEP 19 web seed, so any client can fall back to HTTP, then its
   * mirrors (a CDN): they serve the file when this server cannot. Magnets also say where the
   * .torrent is, here and on the mirrors. Only public files get this transport; private ones
   * never name a mirror (privateTransport).
   */
  transport (mediaId: string): TorrentTransport {
    const mirrors = this.cdnUrls.map(base => `${base}/api/media/${mediaId}`)
    return {
      announce: this.trackers,
      urlList: [this.httpUrl(mediaId), ...mirrors],
      sources: [this.torrentUrl(mediaId), ...mirrors.map(url => `${url}/torrent`)]
    }
  }

  /** The magnet link with today's trackers and web seed. */
  magnet (manifest: Pick<MediaManifest, 'mediaId' | 'infoHash' | 'originalName'>): string {
    return magnetURI(manifest.infoHash, manifest.originalName, this.transport(manifest.mediaId))
  }

  async exists (mediaId: string): Promise<boolean> {
    return isMediaId(mediaId) && await this.store.has(mediaId)
  }

  async manifest (mediaId: string): Promise<MediaManifest> {
    const raw = await this.store.readManifest(mediaId).catch(err => err as Error)
    if (!(raw instanceof Error) && isManifest(raw, mediaId)) return raw
    if (!await this.store.has(mediaId)) throw notFound()
    this.log.warn({ mediaId, reason: raw instanceof Error ? raw.message : 'invalid fields' }, 'manifest damaged; rebuilding it from the stored torrent')
    const info = this.decodeInfo(await this.torrent(mediaId))
    const { size } = (await this.store.stat(mediaId))!
    const name = decoder.decode(info.name)
    const infoHash = infoHashOf(info as unknown as Record<string, unknown>, sha1)
    const manifest: MediaManifest = {
      mediaId,
      originalName: name,
      mimeType: 'application/octet-stream',
      fileSize: size,
      infoHash,
      magnetURI: magnetURI(infoHash, name, this.transport(mediaId)),
      pieceLength: info['piece length'],
      createdAt: new Date().toISOString()
    }
    await this.store.writeManifest(manifest)
    return manifest
  }

  /** The stored .torrent: the resume source, never re-hashed unless it is lost or damaged. */
  async torrent (mediaId: string): Promise<Uint8Array> {
    const stat = await this.store.stat(mediaId)
    if (!stat) throw notFound()
    const raw = await this.store.readTorrent(mediaId).catch(err => err as Error)
    if (!(raw instanceof Error)) {
      try {
        if (this.decodeInfo(raw).length === stat.size) return raw
      } catch {}
    }
    this.log.warn({ mediaId }, 'torrent missing or damaged; rebuilding it from the stored bytes (one read of the file)')
    const manifest = await this.store.readManifest(mediaId).catch(() => undefined)
    const name = manifest?.originalName ?? 'file'
    const pieces = await hashPieces(await this.store.read(mediaId), stat.size)
    const { torrentFile } = buildTorrent({ name, length: stat.size, ...pieces }, this.transport(mediaId), sha1)
    await this.store.writeTorrent(mediaId, torrentFile)
    return torrentFile
  }

  /** The .torrent as handed out: the stored info dict with today's trackers and web seed. */
  async servedTorrent (mediaId: string): Promise<Uint8Array> {
    return withTransport(await this.torrent(mediaId), this.transport(mediaId))
  }

  /** A private record's torrent: the stored pieces under the owner's file name, private, with the record's salt. */
  async privateTorrent (mediaId: string, name: string, salt: string, transport: TorrentTransport): Promise<BuiltTorrent> {
    const decoded = bencode.decode(await this.torrent(mediaId)) as { info: Record<string, unknown> }
    return torrentFromInfo(renamedInfo(decoded.info, name, salt), transport, sha1)
  }

  /**
   * Give a stored blob the name and type of its first public upload, before that upload's
   * record makes the face visible (MediaService.addRecord). A private upload stores a neutral
   * face (ingest.ts), and an earlier public uploader's name may linger after their record went.
   * Nothing seeds the public torrent before that, so changing its infoHash disturbs no swarm;
   * a crash between the two writes leaves a face nobody sees, renamed again by the next
   * public upload.
   */
  async rename (mediaId: string, name: string, mimeType: string): Promise<MediaManifest> {
    const decoded = bencode.decode(await this.torrent(mediaId)) as { info: Record<string, unknown> }
    const { infoHash, torrentFile } = torrentFromInfo(renamedInfo(decoded.info, name), this.transport(mediaId), sha1)
    const manifest: MediaManifest = {
      ...await this.manifest(mediaId),
      originalName: name,
      mimeType,
      infoHash,
      createdAt: new Date().toISOString()
    }
    manifest.magnetURI = this.magnet(manifest)
    await this.store.writeTorrent(mediaId, torrentFile)
    crashPoint('mid-rename')
    await this.store.writeManifest(manifest)
    return manifest
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

  private decodeInfo (torrentFile: Uint8Array): DecodedInfo {
    const decoded = bencode.decode(torrentFile) as { info?: DecodedInfo }
    const info = decoded.info
    if (!info || typeof info.length !== 'number' || !(info.pieces instanceof Uint8Array) || !(info.name instanceof Uint8Array)) {
      throw new Error('not a single-file torrent')
    }
    return info
  }
}

function isManifest (m: unknown, mediaId: string): m is MediaManifest {
  const o = m as MediaManifest
  return o != null && o.mediaId === mediaId && typeof o.infoHash === 'string' && /^[0-9a-f]{40}$/.test(o.infoHash) &&
    typeof o.fileSize === 'number' && typeof o.originalName === 'string' && typeof o.mimeType === 'string'
}
