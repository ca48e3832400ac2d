/** Who holds which media, and how they share it (in the database: databaseRecordRepository.ts). */
import type { AccessLevel } from '../../shared/media.ts'
import type { ListingPosition } from '../catalog/listingCursor.ts'

/** A public key, or '' for anonymous uploads (only when ALLOW_ANONYMOUS_UPLOADS is on). */
export type OwnerKey = string

export interface MediaRecord {
  id: number
  mediaId: string
  owner: OwnerKey
  accessLevel: AccessLevel
  name: string | null
  description: string | null
  /** The file name and type this owner uploaded with. */
  originalName: string
  mimeType: string
  /** Private records: the salt of their own torrent, and that torrent's infoHash. */
  torrentSalt: string | null
  privateInfoHash: string | null
  /** The owner keeps this file's torrent active in the seeder. */
  pinned: boolean
  /** The owner's own tags for the file. */
  tags: string[]
  createdAt: string
}

/** `fileSize`: the stored file's size, counted against the owner's quota. A new record has no pin and no tags. */
export type NewMediaRecord = Omit<MediaRecord, 'id' | 'createdAt' | 'pinned' | 'tags'> & { fileSize?: number }

/** What an owner's edit changes of their record (what is left out stays). */
export type RecordChange = Partial<Pick<MediaRecord, 'name' | 'description' | 'tags' | 'accessLevel' | 'torrentSalt' | 'privateInfoHash'>>

/** An owner's file as their own listing shows it: their record, the stored file's facts, and whether its torrent is seeded. */
export interface OwnedMedia {
  record: MediaRecord
  blob: { fileSize: number, name: string, mimeType: string, infoHash: string, missing: boolean }
  /** The torrent the owner sees (their private one, or the public one) has a seed. */
  seeded: boolean
}

/** Which of an owner's files a page of their listing holds. */
export interface OwnedQuery {
  limit: number
  /** After the last record of the previous page. */
  after?: ListingPosition
  /** Only those whose name, description or original name hold this text (catalog/textQuery.ts). */
  q?: string
  /** Only this one (else thumbnails the owner's signed records name are left out: they show with their file). */
  mediaId?: string
}

/** What one key stores: the sizes of the distinct files it has records for, and how many. */
export interface StorageUse { bytes: number, files: number }

export interface RecordRepository {
  /**
   * The caller's record for this media: created, or the one they already had (never changed).
   * `admit` sees the owner's use before a new record is made, in the same transaction, and
   * throws to refuse it; so records made at the same time cannot pass a quota together.
   */
  ensure (record: NewMediaRecord, admit?: (use: StorageUse) => void): Promise<{ record: MediaRecord, created: boolean }>
  /** What this key stores now. */
  usage (owner: OwnerKey): Promise<StorageUse>
  get (mediaId: string, owner: OwnerKey): Promise<MediaRecord | undefined>
  hasPublic (mediaId: string): Promise<boolean>
  /** The private record whose torrent has this infoHash. */
  byPrivateInfoHash (infoHash: string): Promise<MediaRecord | undefined>
  /** Pin or unpin the owner's record; false when they have none. */
  setPinned (mediaId: string, owner: OwnerKey, pinned: boolean): Promise<boolean>
  /**
   * In a transaction, taken first: the owner's other changes of records and pins wait until it
   * ends, so their quota checks see each other and no two changes wait on each other in a circle.
   */
  lockOwner (owner: OwnerKey): Promise<void>
  /** How many of this key's records are pinned. */
  pinnedCount (owner: OwnerKey): Promise<number>
  /** Some public record of this media is pinned (so its public torrent is). */
  hasPinnedPublic (mediaId: string): Promise<boolean>
  /** Records left for this media, by anyone. */
  count (mediaId: string): Promise<number>
  remove (mediaId: string, owner: OwnerKey): Promise<boolean>
  /** Change the owner's record; false when they have none. */
  update (mediaId: string, owner: OwnerKey, change: RecordChange): Promise<boolean>
  /** The owner's files, newest first: one query per page, whatever the catalogue holds. Not the thumbnails their records name. */
  listByOwner (owner: OwnerKey, query: OwnedQuery): Promise<OwnedMedia[]>
  /** The first public record of a media: its name and description stand for it in the public listing. */
  firstPublic (mediaId: string): Promise<MediaRecord | undefined>
}
