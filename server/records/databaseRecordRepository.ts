/** Records in the database (SQLite or PostgreSQL; see db/migrations.ts for the schema). */
import type { Selectable, Updateable } from 'kysely'
import { containsText } from '../catalog/textQuery.ts'
import { LOCK, lockInTransaction } from '../db/advisoryLock.ts'
import type { Db, Dialect } from '../db/database.ts'
import type { MediaRecordsTable } from '../db/schema.ts'
import type { MediaRecord, NewMediaRecord, OwnedMedia, OwnedQuery, OwnerKey, RecordChange, RecordRepository, StorageUse } from './recordRepository.ts'

export const toRecord = (r: Selectable<MediaRecordsTable>): MediaRecord => ({
  id: r.id,
  mediaId: r.media_id,
  owner: r.owner,
  accessLevel: r.access_level,
  name: r.name,
  description: r.description,
  originalName: r.original_name,
  mimeType: r.mime_type,
  torrentSalt: r.torrent_salt,
  privateInfoHash: r.private_info_hash,
  pinned: r.pinned === 1,
  tags: JSON.parse(r.tags) as string[],
  createdAt: r.created_at
})

/** A change as the table's columns (what it leaves out is not written). */
const changedColumns = (change: RecordChange): Updateable<MediaRecordsTable> => ({
  ...(change.name !== undefined ? { name: change.name } : {}),
  ...(change.description !== undefined ? { description: change.description } : {}),
  ...(change.tags !== undefined ? { tags: JSON.stringify(change.tags) } : {}),
  ...(change.accessLevel !== undefined ? { access_level: change.accessLevel } : {}),
  ...(change.torrentSalt !== undefined ? { torrent_salt: change.torrentSalt } : {}),
  ...(change.privateInfoHash !== undefined ? { private_info_hash: change.privateInfoHash } : {})
})

export class DatabaseRecordRepository implements RecordRepository {
  /** The database, or the transaction these reads and writes belong to. */
  private readonly db: Db
  private readonly dialect: Dialect

  constructor (db: Db, dialect: Dialect) {
    this.db = db
    this.dialect = dialect
  }

  async ensure (record: NewMediaRecord, admit?: (use: StorageUse) => void): Promise<{ record: MediaRecord, created: boolean }> {
    const run = async (db: Db): Promise<{ record: MediaRecord, created: boolean }> => {
      // Without it, two of an owner's records made at once on PostgreSQL both see the use from
      // before either and pass the quota together, and the same record made twice fails on the unique key.
      const records = new DatabaseRecordRepository(db, this.dialect)
      await records.lockOwner(record.owner)
      const had = await records.get(record.mediaId, record.owner)
      if (had) return { record: had, created: false }
      admit?.(await records.usage(record.owner))
      await db.insertInto('media_records').values({
        media_id: record.mediaId,
        owner: record.owner,
        access_level: record.accessLevel,
        name: record.name,
        description: record.description,
        original_name: record.originalName,
        mime_type: record.mimeType,
        torrent_salt: record.torrentSalt,
        private_info_hash: record.privateInfoHash,
        file_size: record.fileSize ?? null,
        created_at: new Date().toISOString()
      }).execute()
      return { record: (await records.get(record.mediaId, record.owner))!, created: true }
    }
    return this.db.isTransaction ? await run(this.db) : await this.db.transaction().execute(run)
  }

  async usage (owner: OwnerKey): Promise<StorageUse> {
    // One record per (media, owner): a file this key holds twice is not possible, so a sum counts it once.
    const row = await this.db.selectFrom('media_records')
      .select(eb => [eb.fn.coalesce(eb.fn.sum<number>('file_size'), eb.lit(0)).as('bytes'), eb.fn.countAll<number>().as('files')])
      .where('owner', '=', owner).executeTakeFirstOrThrow()
    return { bytes: Number(row.bytes), files: Number(row.files) }
  }

  async get (mediaId: string, owner: OwnerKey): Promise<MediaRecord | undefined> {
    const row = await this.db.selectFrom('media_records').selectAll().where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return row && toRecord(row)
  }

  async byPrivateInfoHash (infoHash: string): Promise<MediaRecord | undefined> {
    const row = await this.db.selectFrom('media_records').selectAll().where('private_info_hash', '=', infoHash).executeTakeFirst()
    return row && toRecord(row)
  }

  async setPinned (mediaId: string, owner: OwnerKey, pinned: boolean): Promise<boolean> {
    const r = await this.db.updateTable('media_records').set({ pinned: pinned ? 1 : 0 }).where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return r.numUpdatedRows === 1n
  }

  async lockOwner (owner: OwnerKey): Promise<void> {
    await lockInTransaction(this.db, this.dialect, LOCK.owner, owner)
  }

  async pinnedCount (owner: OwnerKey): Promise<number> {
    const row = await this.db.selectFrom('media_records').select(eb => eb.fn.countAll<number>().as('n')).where('owner', '=', owner).where('pinned', '=', 1).executeTakeFirstOrThrow()
    return Number(row.n)
  }

  async hasPinnedPublic (mediaId: string): Promise<boolean> {
    return await this.db.selectFrom('media_records').select('id').where('media_id', '=', mediaId).where('access_level', '=', 'public').where('pinned', '=', 1).limit(1).executeTakeFirst() !== undefined
  }

  async count (mediaId: string): Promise<number> {
    const row = await this.db.selectFrom('media_records').select(eb => eb.fn.countAll<number>().as('n')).where('media_id', '=', mediaId).executeTakeFirstOrThrow()
    return Number(row.n)
  }

  async remove (mediaId: string, owner: OwnerKey): Promise<boolean> {
    const r = await this.db.deleteFrom('media_records').where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return r.numDeletedRows === 1n
  }

  async update (mediaId: string, owner: OwnerKey, change: RecordChange): Promise<boolean> {
    const set = changedColumns(change)
    if (Object.keys(set).length === 0) return await this.get(mediaId, owner) !== undefined
    const r = await this.db.updateTable('media_records').set(set).where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return r.numUpdatedRows === 1n
  }

  async listByOwner (owner: OwnerKey, { limit, after, q, mediaId }: OwnedQuery): Promise<OwnedMedia[]> {
    // The file's row by its key, and the seed of the torrent the owner sees by its key: per row
    // of the page, never per row of the catalogue.
    let query = this.db.selectFrom('media_records as r')
      .innerJoin('blobs as b', 'b.media_id', 'r.media_id')
      .leftJoin('seeds as s', join => join.on(eb => eb('s.info_hash', '=', eb.fn.coalesce('r.private_info_hash', 'b.info_hash'))))
      .selectAll('r')
      .select(['b.file_size as blob_size', 'b.name as blob_name', 'b.mime_type as blob_mime_type', 'b.info_hash as blob_info_hash', 'b.missing as blob_missing', 's.info_hash as seed_info_hash'])
      .where('r.owner', '=', owner)
    // A row value, as the public listing does (blobRepository.listed): the OR spelling made SQLite
    // read and sort every older record of the owner.
    if (after) query = query.where(eb => eb(eb.refTuple('r.created_at', 'r.media_id'), '<', eb.tuple(after.at, after.mediaId)))
    // Read through the owner's records only, so a search costs at most what the key holds (its quota).
    if (q !== undefined) query = query.where(containsText(this.dialect, ['r.name', 'r.description', 'r.original_name'], q))
    // A thumbnail the owner's signed records name is shown with its file, not as a file (asked by id, it is there).
    query = mediaId !== undefined
      ? query.where('r.media_id', '=', mediaId)
      : query.where(eb => eb.not(eb.exists(eb.selectFrom('record_thumbnails as t').select('t.record_id').whereRef('t.thumbnail_id', '=', 'r.media_id').where('t.owner', '=', owner))))
    const rows = await query.orderBy('r.created_at', 'desc').orderBy('r.media_id', 'desc').limit(limit).execute()
    return rows.map(row => ({
      record: toRecord(row),
      blob: { fileSize: Number(row.blob_size), name: row.blob_name, mimeType: row.blob_mime_type, infoHash: row.blob_info_hash, missing: row.blob_missing === 1 },
      seeded: row.seed_info_hash !== null
    }))
  }

  async firstPublic (mediaId: string): Promise<MediaRecord | undefined> {
    const row = await this.db.selectFrom('media_records').selectAll().where('media_id', '=', mediaId).where('access_level', '=', 'public').orderBy('id').limit(1).executeTakeFirst()
    return row && toRecord(row)
  }

  async hasPublic (mediaId: string): Promise<boolean> {
    return await this.db.selectFrom('media_records').select('id').where('media_id', '=', mediaId).where('access_level', '=', 'public').limit(1).executeTakeFirst() !== undefined
  }
}
