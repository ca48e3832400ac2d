/**
 * Who holds which media, and how they share it. SQLite is the embedded default; another
 * database can take its place behind this interface.
 */
import type { AccessLevel } from '../../shared/media.ts'

/** '' stands for anonymous uploads (allowed only until identity is switched on). */
export type OwnerKey = string

export interface MediaRecord {
  id: number
  mediaId: string
  owner: OwnerKey
  accessLevel: AccessLevel
  name: string | null
  description: string | null
  createdAt: string
}

export type NewMediaRecord = Omit<MediaRecord, 'id' | 'createdAt'>

export interface RecordRepository {
  /** The caller's record for this media: created, or the one they already had (never changed). */
  ensure (record: NewMediaRecord): { record: MediaRecord, created: boolean }
  forMedia (mediaId: string): MediaRecord[]
  hasPublic (mediaId: string): boolean
}
