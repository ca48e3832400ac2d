/** Shapes and rules for stored media shared by the browser and the server. */
import type { Publication } from './publication.ts'

export type AccessLevel = 'public' | 'private'
export const ACCESS_LEVELS: readonly AccessLevel[] = ['public', 'private']

/** A mediaId is the lowercase hex SHA-256 of the bytes. Anything else is not an id. */
const MEDIA_ID = /^[0-9a-f]{64}$/
export const isMediaId = (value: string): boolean => MEDIA_ID.test(value)

/** A MIME type we store as given (lowercase type/subtype, no parameters). */
export const SAFE_MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/

/** The type stored for the type an upload names: lowercased, or application/octet-stream when not SAFE_MIME. */
export function storedMimeType (type: string): string {
  const lower = type.toLowerCase()
  return SAFE_MIME.test(lower) ? lower : 'application/octet-stream'
}

/** MEDIA_DIR/<mediaId>/manifest.json (the seed's layout, plus the torrent's piece length). */
export interface MediaManifest {
  mediaId: string
  originalName: string
  mimeType: string
  fileSize: number
  infoHash: string
  magnetURI: string
  pieceLength: number
  createdAt: string
}

/** What POST /api/media/upload answers (201 new, 200 already stored). */
export interface UploadResult {
  mediaId: string
  infoHash: string
  magnetURI: string
  httpUrl: string
  torrentUrl: string
  fileSize: number
  mimeType: string
  originalName: string
  accessLevel: AccessLevel
  /** The uploader's public key (null for an anonymous upload). */
  owner: string | null
  createdAt: string
}

/** A file in a listing (`GET /api/media`): the face the caller sees of it. */
export interface MediaListItem {
  mediaId: string
  name: string | null
  description: string | null
  originalName: string
  mimeType: string
  fileSize: number
  infoHash: string
  accessLevel: AccessLevel
  owner: string | null
  createdAt: string
}

/** How the server seeds a torrent: active in its BitTorrent client, idle until wanted, or off (not seeded). */
export type SeedingState = 'active' | 'idle' | 'off'

/** A file of a record as its holder sees it: with the record's pin and tags, and how the torrent they see is seeded. */
export interface RecordListItem extends MediaListItem {
  pinned: boolean
  /** `missing`: the bytes are gone from the store. */
  seeding: SeedingState | 'missing'
  tags: string[]
  /** The mediaId of its thumbnail (shared/thumbnail.ts), named by the record's signed OIP record; null when none. */
  thumbnail: string | null
}

/** A key a private file is shared with (`/api/media/:id/shares`); expiresAt null: until revoked. */
export interface ShareView {
  publicKey: string
  expiresAt: string | null
  createdAt: string
}

/** A file in its owner's own listing (`?owner=me`): with the keys their record is shared with now. */
export interface OwnedListItem extends RecordListItem {
  sharedWith: Array<Pick<ShareView, 'publicKey' | 'expiresAt'>>
  /** Where the owner's record of it went on the OIP network, and how far it got; none when it was not sent. */
  publication?: Publication
}

/**
 * A file shared with the caller (`?shared=me`): the owner's record of it, who shared it, and until
 * when. Not whether the owner pinned it: that is the owner's use of their quota, not the file's.
 */
export interface SharedListItem extends Omit<RecordListItem, 'pinned'> {
  sharedBy: string
  expiresAt: string | null
}

/** What an owner may change of their record (`PATCH /api/media/:id`); what is left out stays, null clears. */
export interface MediaEdit {
  name?: string | null
  description?: string | null
  tags?: string[]
  accessLevel?: AccessLevel
}

/** A key's use against its limits (`GET /api/me/usage`). `exempt`: an admin key, whose use is not summed (shown as 0). */
export interface KeyUsage {
  bytes: number
  files: number
  pins: number
  limits: { bytesPerKey: number, filesPerKey: number, pinsPerKey: number }
  exempt: boolean
}

/** The seed's seedInfo object. */
export interface SeedInfo {
  mediaId: string
  infoHash: string
  magnetURI: string
  filePath: string
  createdAt: string
  fileSize: number
}

/** The seed's statistics object. */
export interface SeederStats {
  seedingCount: number
  activeTorrents: number
  totalUploaded: number
  totalDownloaded: number
  peers: number
}

/** One sample of the seeder's history (GET /api/seeder/history): rates are bytes/s over the interval before `at` (ms). */
export interface HistorySample {
  at: number
  /** Bytes of stored files sent: over HTTP (web seed, downloads) and to BitTorrent peers. */
  upload: number
  /** Bytes received from BitTorrent peers. */
  download: number
  peers: number
  activeTorrents: number
  /** Free bytes on the media disk (null when it could not be read). */
  diskFree: number | null
}

export interface SeederHistory {
  intervalMs: number
  /** What the history spans once full: its samples × intervalMs. */
  windowMs: number
  /** Oldest first. */
  samples: HistorySample[]
  /**
   * MEDIA_DIR's disk now; uploads are refused under `lowWater` free bytes (DISK_LOW_WATER_BYTES).
   * `lowWater` null: files and uploads are in a bucket (BLOB_STORE=s3), this disk holds only the
   * server's own state, and it stops no upload.
   */
  disk: { free: number, size: number, lowWater: number | null } | null
}

/** Bytes of a file sent since the server started, by source (GET /api/seeder/files). */
export interface ServedFile {
  mediaId: string
  name: string
  accessLevel: AccessLevel
  /** The file this one is a thumbnail of (a signed record names it so), when it is one. */
  thumbnailOf?: { mediaId: string, name: string }
  /** http: web seed and downloads; tcp and webrtc: BitTorrent peers. */
  bytes: { http: number, tcp: number, webrtc: number }
  total: number
}
