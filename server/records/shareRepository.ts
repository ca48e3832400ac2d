/**
 * Shares of private records with chosen keys, in the database (SQLite or PostgreSQL; the table
 * is db/migrations.ts's 0007). A share is live until its expiry: an expired row reads as no
 * share everywhere, so no sweep is needed for a refusal to hold, on any node.
 */
import type { Expression, ExpressionBuilder, Selectable, SqlBool } from 'kysely'
import type { Db } from '../db/database.ts'
import type { MediaRecordsTable, MediaSharesTable } from '../db/schema.ts'
import { toRecord } from './databaseRecordRepository.ts'
import type { MediaRecord, OwnedMedia, OwnerKey } from './recordRepository.ts'

export interface MediaShare {
  mediaId: string
  owner: OwnerKey
  recipient: string
  /** ms; null: until revoked. */
  expiresAt: number | null
  /** ms */
  createdAt: number
}

/** A share with the owner's record it lets the recipient read. */
export interface SharedRecord {
  share: MediaShare
  record: MediaRecord
}

/** A file shared with the recipient, as their listing shows it: the share, the owner's record, the stored file's facts and whether its torrent is seeded. */
export type SharedMedia = OwnedMedia & { share: MediaShare }

/** Where a page of "shared with me" ended: newest first, by (createdAt, mediaId, owner). */
export interface SharedCursor { at: number, mediaId: string, owner: string }

/** A share is live until its expiry (none: until revoked): the one condition every read of live shares uses. */
const liveAt = (now: number, expiresAt: 'expires_at' | 's.expires_at' | 'o.expires_at') =>
  (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => eb.or([eb(expiresAt, 'is', null), eb(expiresAt, '>', now)])

const toShare = (r: Selectable<MediaSharesTable>): MediaShare => ({
  mediaId: r.media_id,
  owner: r.owner,
  recipient: r.recipient,
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  createdAt: Number(r.created_at)
})

export class ShareRepository {
  /** The database, or the transaction these reads and writes belong to. */
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  /**
   * Share the owner's record with `recipient`, or change the expiry of their share; a share that
   * had expired is made anew (a new createdAt). Call it in a transaction holding the owner's
   * lock, so nothing else changes the row between the read and the write. The live share
   * before the change, if there was one.
   */
  async put (share: Omit<MediaShare, 'createdAt'>, now: number): Promise<{ share: MediaShare, before?: MediaShare }> {
    const before = await this.live(share.mediaId, share.owner, share.recipient, now)
    const had = before ?? await this.db.selectFrom('media_shares').select('created_at')
      .where('media_id', '=', share.mediaId).where('owner', '=', share.owner).where('recipient', '=', share.recipient).executeTakeFirst()
    const made = { ...share, createdAt: before?.createdAt ?? now }
    if (had) {
      await this.db.updateTable('media_shares').set({ expires_at: made.expiresAt, created_at: made.createdAt })
        .where('media_id', '=', share.mediaId).where('owner', '=', share.owner).where('recipient', '=', share.recipient).execute()
    } else {
      await this.db.insertInto('media_shares').values({ media_id: share.mediaId, owner: share.owner, recipient: share.recipient, expires_at: made.expiresAt, created_at: made.createdAt }).execute()
    }
    return { share: made, ...(before ? { before } : {}) }
  }

  /** The live share of the owner's record with this key. */
  async live (mediaId: string, owner: OwnerKey, recipient: string, now: number): Promise<MediaShare | undefined> {
    const row = await this.db.selectFrom('media_shares').selectAll()
      .where('media_id', '=', mediaId).where('owner', '=', owner).where('recipient', '=', recipient)
      .where(liveAt(now, 'expires_at'))
      .executeTakeFirst()
    return row && toShare(row)
  }

  /** Revoke; false when there was no share (live or expired). */
  async remove (mediaId: string, owner: OwnerKey, recipient: string): Promise<boolean> {
    const r = await this.db.deleteFrom('media_shares').where('media_id', '=', mediaId).where('owner', '=', owner).where('recipient', '=', recipient).executeTakeFirst()
    return r.numDeletedRows > 0n
  }

  /** Every share of the owner's record (it goes, or stops being private). */
  async removeAll (mediaId: string, owner: OwnerKey): Promise<void> {
    await this.db.deleteFrom('media_shares').where('media_id', '=', mediaId).where('owner', '=', owner).execute()
  }

  /** Forget the owner's shares of this file that have expired (they read as no share already). */
  async removeExpired (mediaId: string, owner: OwnerKey, now: number): Promise<void> {
    await this.db.deleteFrom('media_shares').where('media_id', '=', mediaId).where('owner', '=', owner).where('expires_at', '<=', now).execute()
  }

  /**
   * Forget up to `batch` expired shares of any file (a periodic sweep: they read as no share
   * already); how many went. One index range, however many shares there are.
   */
  async removeExpiredBatch (now: number, batch: number): Promise<number> {
    const due = await this.db.selectFrom('media_shares').select(['media_id', 'owner', 'recipient'])
      .where('expires_at', '<=', now).orderBy('expires_at').limit(batch).execute()
    if (due.length === 0) return 0
    const r = await this.db.deleteFrom('media_shares')
      .where(eb => eb.or(due.map(d => eb.and([eb('media_id', '=', d.media_id), eb('owner', '=', d.owner), eb('recipient', '=', d.recipient)]))))
      .where('expires_at', '<=', now)
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  /** How many live shares the owner's record has. */
  async liveCount (mediaId: string, owner: OwnerKey, now: number): Promise<number> {
    const row = await this.db.selectFrom('media_shares').select(eb => eb.fn.countAll<number>().as('n'))
      .where('media_id', '=', mediaId).where('owner', '=', owner)
      .where(liveAt(now, 'expires_at'))
      .executeTakeFirstOrThrow()
    return Number(row.n)
  }

  /** The live shares of the owner's records of these media, oldest first per media. */
  async ofRecords (owner: OwnerKey, mediaIds: string[], now: number): Promise<Map<string, MediaShare[]>> {
    const byMedia = new Map<string, MediaShare[]>()
    if (mediaIds.length === 0) return byMedia
    const rows = await this.db.selectFrom('media_shares').selectAll()
      .where('media_id', 'in', mediaIds).where('owner', '=', owner)
      .where(liveAt(now, 'expires_at'))
      .orderBy('created_at').orderBy('recipient')
      .execute()
    for (const row of rows) {
      const share = toShare(row)
      byMedia.set(share.mediaId, [...byMedia.get(share.mediaId) ?? [], share])
    }
    return byMedia
  }

  /**
   * The private record a live share lets `recipient` read this media through (the oldest share,
   * when several owners shared it), with that share. One lookup on (media_id, recipient).
   */
  async readable (mediaId: string, recipient: string, now: number): Promise<SharedRecord | undefined> {
    const [found] = await this.sharedRecords(recipient, now).where('s.media_id', '=', mediaId)
      .orderBy('s.created_at').orderBy('s.owner').limit(1).execute()
    return found && this.toSharedRecord(found)
  }

  /**
   * The owner's private record of a thumbnail that a live share lets `recipient` read: the
   * owner's signed record of a file shared with them names it (record_thumbnails). Asked only
   * when nothing else lets them read it: one lookup on (thumbnail_id, owner).
   */
  async readableThumbnail (thumbnailId: string, recipient: string, now: number): Promise<MediaRecord | undefined> {
    const row = await this.db.selectFrom('record_thumbnails as t')
      .innerJoin('media_shares as s', join => join.onRef('s.media_id', '=', 't.media_id').onRef('s.owner', '=', 't.owner'))
      .innerJoin('media_records as r', join => join.onRef('r.media_id', '=', 't.thumbnail_id').onRef('r.owner', '=', 't.owner'))
      .selectAll('r')
      .where('t.thumbnail_id', '=', thumbnailId)
      .where('s.recipient', '=', recipient)
      .where(liveAt(now, 's.expires_at'))
      .where('t.access_level', '=', 'private')
      .where('r.access_level', '=', 'private')
      .limit(1).executeTakeFirst()
    return row && toRecord(row)
  }

  /**
   * The files shared with `recipient` and live, newest share first, after the previous page's
   * last: with each file's row and the seed of the owner's private torrent, by their keys (per
   * row of the page, as the owner's listing reads them). A file several owners share is listed
   * once, through the record the doors read it by (`readable`: the oldest share), so the
   * listing's name and torrent are what /info and the bytes then give.
   */
  async sharedWith (recipient: string, now: number, limit: number, after?: SharedCursor): Promise<SharedMedia[]> {
    let query = this.sharedRecords(recipient, now)
      .where(eb => eb.not(eb.exists(
        eb.selectFrom('media_shares as o')
          .innerJoin('media_records as ro', join => join.onRef('ro.media_id', '=', 'o.media_id').onRef('ro.owner', '=', 'o.owner'))
          .select('o.owner')
          .whereRef('o.media_id', '=', 's.media_id').whereRef('o.recipient', '=', 's.recipient')
          .where(liveAt(now, 'o.expires_at'))
          .where('ro.access_level', '=', 'private')
          .where(e => e(e.refTuple('o.created_at', 'o.owner'), '<', e.refTuple('s.created_at', 's.owner')))
      )))
      .innerJoin('blobs as b', 'b.media_id', 's.media_id')
      .leftJoin('seeds as sd', 'sd.info_hash', 'r.private_info_hash')
      .select(['b.file_size as blob_size', 'b.name as blob_name', 'b.mime_type as blob_mime_type', 'b.info_hash as blob_info_hash', 'b.missing as blob_missing', 'sd.info_hash as seed_info_hash'])
    // A row value, as the other listings page (one seek on media_shares_recipient, no sort).
    if (after) query = query.where(eb => eb(eb.refTuple('s.created_at', 's.media_id', 's.owner'), '<', eb.tuple(after.at, after.mediaId, after.owner)))
    const rows = await query.orderBy('s.created_at', 'desc').orderBy('s.media_id', 'desc').orderBy('s.owner', 'desc').limit(limit).execute()
    return rows.map(row => ({
      ...this.toSharedRecord(row),
      blob: { fileSize: Number(row.blob_size), name: row.blob_name, mimeType: row.blob_mime_type, infoHash: row.blob_info_hash, missing: row.blob_missing === 1 },
      seeded: row.seed_info_hash !== null
    }))
  }

  /** Live shares with `recipient` joined to the private records they share. */
  private sharedRecords (recipient: string, now: number) {
    return this.db.selectFrom('media_shares as s')
      .innerJoin('media_records as r', join => join.onRef('r.media_id', '=', 's.media_id').onRef('r.owner', '=', 's.owner'))
      .selectAll('r')
      .select(['s.recipient as share_recipient', 's.expires_at as share_expires_at', 's.created_at as share_created_at'])
      .where('s.recipient', '=', recipient)
      .where(liveAt(now, 's.expires_at'))
      // A record that is no longer private shares nothing (its shares go with the change).
      .where('r.access_level', '=', 'private')
  }

  private toSharedRecord (row: Selectable<MediaRecordsTable> & { share_recipient: string, share_expires_at: number | null, share_created_at: number }): SharedRecord {
    const record = toRecord(row)
    return {
      record,
      share: { mediaId: record.mediaId, owner: record.owner, recipient: row.share_recipient, expiresAt: row.share_expires_at === null ? null : Number(row.share_expires_at), createdAt: Number(row.share_created_at) }
    }
  }
}
