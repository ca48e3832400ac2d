/** Shapes and rules for stored media shared by the browser and the server. */

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
