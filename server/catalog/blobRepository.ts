/**
 * Stored files in the database: one row per blob with its size and public face (name, type and
 * the info dict its torrent is built from). The row is the truth about a file; the blob store
 * only holds its bytes.
 */
import type { Selectable } from 'kysely'
import type { Db } from '../db/database.ts'
import type { BlobsTable } from '../db/schema.ts'
import { SeederJsonMark } from './seederJsonMark.ts'

export interface BlobRow {
  mediaId: string
  fileSize: number
  pieceLength: number
  /** The face's bencoded info dict. */
  info: Uint8Array
  name: string
  mimeType: string
  infoHash: string
  /** When it became public (ms), or null while no public record holds it. */
  listedAt: number | null
  missing: boolean
  publishedAt: number
  createdAt: string
}

export type NewBlobRow = Omit<BlobRow, 'listedAt' | 'missing'>

/** A public listing position: newest first, ties broken by mediaId. */
export interface ListedCursor { listedAt: number, mediaId: string }

const toBlob = (r: Selectable<BlobsTable>): BlobRow => ({
  mediaId: r.media_id,
  fileSize: Number(r.file_size),
  pieceLength: r.piece_length,
  info: new Uint8Array(r.info),
  name: r.name,
  mimeType: r.mime_type,
  infoHash: r.info_hash,
  listedAt: r.listed_at === null ? null : Number(r.listed_at),
  missing: r.missing === 1,
  publishedAt: Number(r.published_at),
  createdAt: r.created_at
})

export class BlobRepository {
  /** The database, or the transaction these reads and writes belong to. */
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  async get (mediaId: string): Promise<BlobRow | undefined> {
    const row = await this.db.selectFrom('blobs').selectAll().where('media_id', '=', mediaId).executeTakeFirst()
    return row && toBlob(row)
  }

  /** A new row; a row already there is left as it is (false). */
  async insert (blob: NewBlobRow): Promise<boolean> {
    const r = await this.db.insertInto('blobs').values({
      media_id: blob.mediaId,
      file_size: blob.fileSize,
      piece_length: blob.pieceLength,
      info: blob.info,
      name: blob.name,
      mime_type: blob.mimeType,
      info_hash: blob.infoHash,
      published_at: blob.publishedAt,
      created_at: blob.createdAt
    }).onConflict(oc => oc.column('media_id').doNothing()).executeTakeFirst()
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1
  }

  /** The bytes were published again (a new upload of them): the orphan grace starts anew, and they are not missing. */
  async republished (mediaId: string, at: number): Promise<void> {
    await this.db.updateTable('blobs').set({ published_at: at, missing: 0 }).where('media_id', '=', mediaId).execute()
  }

  /** A new face: name, type and the info dict (and so the infoHash) of its public torrent. */
  async setFace (mediaId: string, face: { name: string, mimeType: string, info: Uint8Array, infoHash: string, createdAt: string }): Promise<void> {
    await this.db.updateTable('blobs').set({ name: face.name, mime_type: face.mimeType, info: face.info, info_hash: face.infoHash, created_at: face.createdAt })
      .where('media_id', '=', mediaId).execute()
  }

  /** List or unlist a file; seeder.json is marked stale in the same transaction (seederJsonMark.ts). */
  async setListed (mediaId: string, listedAt: number | null): Promise<void> {
    await this.db.updateTable('blobs').set({ listed_at: listedAt }).where('media_id', '=', mediaId).execute()
    await new SeederJsonMark(this.db).mark()
  }

  async setMissing (mediaId: string, missing: boolean): Promise<void> {
    await this.db.updateTable('blobs').set({ missing: missing ? 1 : 0 }).where('media_id', '=', mediaId).execute()
  }

  /** The public file whose face torrent has this infoHash. */
  async listedByInfoHash (infoHash: string): Promise<BlobRow | undefined> {
    const row = await this.db.selectFrom('blobs').selectAll().where('info_hash', '=', infoHash).where('listed_at', 'is not', null).executeTakeFirst()
    return row && toBlob(row)
  }

  /** Public files, newest first, after `cursor`; not those a public signed record names as a thumbnail (they show with their file). */
  async listed (limit: number, cursor?: ListedCursor): Promise<BlobRow[]> {
    let query = this.db.selectFrom('blobs').selectAll().where('listed_at', 'is not', null)
      .where(eb => eb.not(eb.exists(eb.selectFrom('record_thumbnails as t').select('t.record_id').whereRef('t.thumbnail_id', '=', 'blobs.media_id').where('t.access_level', '=', 'public'))))
    // A row-value comparison, not the same condition spelled with OR: both databases seek the
    // listing index to the cursor with it, where the OR made SQLite gather and sort every older file.
    if (cursor) query = query.where(eb => eb(eb.refTuple('listed_at', 'media_id'), '<', eb.tuple(cursor.listedAt, cursor.mediaId)))
    return (await query.orderBy('listed_at', 'desc').orderBy('media_id', 'desc').limit(limit).execute()).map(toBlob)
  }

  /** Which of these ids have a row. */
  async known (mediaIds: string[]): Promise<Set<string>> {
    if (mediaIds.length === 0) return new Set()
    const rows = await this.db.selectFrom('blobs').select('media_id').where('media_id', 'in', mediaIds).execute()
    return new Set(rows.map(r => r.media_id))
  }

  /** Rows in mediaId order after `after`: for walking the whole catalogue a page at a time. */
  async page (limit: number, after = ''): Promise<Array<{ mediaId: string, missing: boolean }>> {
    const rows = await this.db.selectFrom('blobs').select(['media_id', 'missing']).where('media_id', '>', after).orderBy('media_id').limit(limit).execute()
    return rows.map(r => ({ mediaId: r.media_id, missing: r.missing === 1 }))
  }

  /** Listed (public) files' ids in mediaId order after `after`: for walking them a page at a time. */
  async listedIds (limit: number, after = ''): Promise<string[]> {
    const rows = await this.db.selectFrom('blobs').select('media_id').where('listed_at', 'is not', null).where('media_id', '>', after).orderBy('media_id').limit(limit).execute()
    return rows.map(r => r.media_id)
  }

  async missingCount (): Promise<number> {
    const row = await this.db.selectFrom('blobs').select(eb => eb.fn.countAll<number>().as('n')).where('missing', '=', 1).executeTakeFirstOrThrow()
    return Number(row.n)
  }

  async remove (mediaId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('blobs').where('media_id', '=', mediaId).executeTakeFirst()
    return Number(r.numDeletedRows) === 1
  }
}
