/**
 * The thumbnails signed records name (record.media.thumbnails), one row per record and
 * thumbnail, written and removed with the record's row (oipRecordRepository.ts). They say
 * which of an owner's files are thumbnails (kept out of listings, deleted and changed with
 * their file), which thumbnail a view of a file shows, and let a key a file is shared with read
 * its thumbnail (shareRepository.ts).
 */
import type { AccessLevel } from '../../shared/media.ts'
import type { Db } from '../db/database.ts'

export interface RecordThumbnailRow {
  recordId: string
  mediaId: string
  owner: string
  accessLevel: AccessLevel
  thumbnails?: string[]
}

/** Which record's thumbnail a view shows: the owner's own (or a sharer's), else any public record's. */
export type ThumbnailSource = { owner: string } | 'public'

export class RecordThumbnails {
  /** The database, or the transaction these reads and writes belong to. */
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  async add (row: RecordThumbnailRow): Promise<void> {
    if (!row.thumbnails?.length) return
    await this.db.insertInto('record_thumbnails').values(row.thumbnails.map((thumbnailId, position) => ({
      record_id: row.recordId, media_id: row.mediaId, owner: row.owner, access_level: row.accessLevel, position, thumbnail_id: thumbnailId
    }))).onConflict(oc => oc.doNothing()).execute()
  }

  /** With the owner's records of this file. */
  async removeForMedia (mediaId: string, owner: string): Promise<void> {
    await this.db.deleteFrom('record_thumbnails').where('media_id', '=', mediaId).where('owner', '=', owner).execute()
  }

  /** Every thumbnail the owner's records of this file name. */
  async of (mediaId: string, owner: string): Promise<string[]> {
    const rows = await this.db.selectFrom('record_thumbnails').select('thumbnail_id').distinct()
      .where('media_id', '=', mediaId).where('owner', '=', owner).execute()
    return rows.map(r => r.thumbnail_id)
  }

  /** Some record of this owner names this file as a thumbnail. */
  async isNamed (thumbnailId: string, owner: string): Promise<boolean> {
    return await this.db.selectFrom('record_thumbnails').select('record_id').where('thumbnail_id', '=', thumbnailId).where('owner', '=', owner).limit(1).executeTakeFirst() !== undefined
  }

  /** A file whose records from `source` name this one as its thumbnail, if any. */
  async fileOf (thumbnailId: string, source: ThumbnailSource): Promise<string | null> {
    let query = this.db.selectFrom('record_thumbnails').select('media_id').where('thumbnail_id', '=', thumbnailId)
    query = source === 'public' ? query.where('access_level', '=', 'public') : query.where('owner', '=', source.owner)
    return (await query.limit(1).executeTakeFirst())?.media_id ?? null
  }

  /** The thumbnail shown for this file: the first one the newest record from `source` names. */
  async shown (mediaId: string, source: ThumbnailSource): Promise<string | null> {
    let query = this.db.selectFrom('record_thumbnails as t').innerJoin('oip_records as o', 'o.record_id', 't.record_id')
      .select('t.thumbnail_id').where('t.media_id', '=', mediaId).where('t.position', '=', 0)
    query = source === 'public' ? query.where('t.access_level', '=', 'public') : query.where('t.owner', '=', source.owner)
    const row = await query.orderBy('o.seq', 'desc').limit(1).executeTakeFirst()
    return row?.thumbnail_id ?? null
  }

  /** The thumbnail shown for each of a listing page's files (by `mediaId owner`): one query per page. */
  async shownFor (files: Array<{ mediaId: string, owner: string }>): Promise<Map<string, string>> {
    const shown = new Map<string, string>()
    if (files.length === 0) return shown
    const rows = await this.db.selectFrom('record_thumbnails as t').innerJoin('oip_records as o', 'o.record_id', 't.record_id')
      .select(['t.media_id', 't.owner', 't.thumbnail_id']).where('t.media_id', 'in', [...new Set(files.map(f => f.mediaId))]).where('t.position', '=', 0)
      .orderBy('o.seq', 'asc').execute()
    const wanted = new Set(files.map(f => thumbnailKey(f.mediaId, f.owner)))
    // Ascending: the newest record's thumbnail is set last.
    for (const r of rows) if (wanted.has(thumbnailKey(r.media_id, r.owner))) shown.set(thumbnailKey(r.media_id, r.owner), r.thumbnail_id)
    return shown
  }
}

export const thumbnailKey = (mediaId: string, owner: string): string => `${mediaId} ${owner}`
