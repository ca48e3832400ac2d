/**
 * Signed OIP records, stored as their canonical JSON plus the columns listings filter on, in
 * the database (SQLite or PostgreSQL). `seq` is the paging cursor: insertion order.
 */
import { sql, type Selectable } from 'kysely'
import type { AccessLevel } from '../../shared/media.ts'
import { containsText } from '../catalog/textQuery.ts'
import type { Db, Dialect } from '../db/database.ts'
import type { OipRecordsTable } from '../db/schema.ts'

export interface OipRecordRow {
  /** Insertion order: the paging cursor. */
  seq: number
  recordId: string
  mediaId: string
  owner: string
  accessLevel: AccessLevel
  type: string
  name: string
  description: string
  tags: string[]
  /** The canonical JSON that was signed, byte for byte. */
  recordJson: string
  signature: string
  createdAt: string
}

export type NewOipRecordRow = Omit<OipRecordRow, 'seq'>

export interface OipRecordFilter {
  owner?: string
  type?: string
  /** Exact match on one of the record's tags. */
  tag?: string
  /** Case-insensitive (ASCII) substring of the name or description. */
  q?: string
  /** Sees their own private records besides everyone's public ones. */
  caller?: string
  limit: number
  /** The seq of the last row of the previous page. */
  after?: number
}

export interface OipRecordRepository {
  /** Stores the row, or returns the one already stored under its recordId (unchanged). */
  save (row: NewOipRecordRow): Promise<{ row: OipRecordRow, created: boolean }>
  /** A stored record's signature, replaced (a legacy one by its owner's re-signature); the row after. */
  replaceSignature (recordId: string, signature: string): Promise<OipRecordRow>
  get (recordId: string): Promise<OipRecordRow | undefined>
  /** Public records plus the caller's private ones, newest first. */
  list (filter: OipRecordFilter): Promise<OipRecordRow[]>
  /** Every record of this owner for this media; returns how many went. */
  removeForMedia (mediaId: string, owner: string): Promise<number>
}

const toRow = (r: Selectable<OipRecordsTable>): OipRecordRow => ({
  seq: r.seq,
  recordId: r.record_id,
  mediaId: r.media_id,
  owner: r.owner,
  accessLevel: r.access_level,
  type: r.type,
  name: r.name,
  description: r.description,
  tags: JSON.parse(r.tags) as string[],
  recordJson: r.record_json,
  signature: r.signature,
  createdAt: r.created_at
})

export class DatabaseOipRecordRepository implements OipRecordRepository {
  private readonly db: Db
  private readonly dialect: Dialect

  constructor (db: Db, dialect: Dialect) {
    this.db = db
    this.dialect = dialect
  }

  async save (row: NewOipRecordRow): Promise<{ row: OipRecordRow, created: boolean }> {
    // One statement decides, so two saves of the same record at once still make one row.
    const inserted = await this.db.insertInto('oip_records').values({
      record_id: row.recordId,
      media_id: row.mediaId,
      owner: row.owner,
      access_level: row.accessLevel,
      type: row.type,
      name: row.name,
      description: row.description,
      tags: JSON.stringify(row.tags),
      record_json: row.recordJson,
      signature: row.signature,
      created_at: row.createdAt
    }).onConflict(oc => oc.column('record_id').doNothing()).returning('seq').executeTakeFirst()
    return { row: (await this.get(row.recordId))!, created: inserted !== undefined }
  }

  async replaceSignature (recordId: string, signature: string): Promise<OipRecordRow> {
    await this.db.updateTable('oip_records').set({ signature }).where('record_id', '=', recordId).execute()
    return (await this.get(recordId))!
  }

  async get (recordId: string): Promise<OipRecordRow | undefined> {
    const row = await this.db.selectFrom('oip_records').selectAll().where('record_id', '=', recordId).executeTakeFirst()
    return row && toRow(row)
  }

  async list (filter: OipRecordFilter): Promise<OipRecordRow[]> {
    let query = this.db.selectFrom('oip_records').selectAll()
      // An anonymous caller matches no owner.
      .where(eb => filter.caller === undefined ? eb('access_level', '=', 'public') : eb.or([eb('access_level', '=', 'public'), eb('owner', '=', filter.caller)]))
      .where('seq', '<', filter.after ?? Number.MAX_SAFE_INTEGER)
    if (filter.owner !== undefined) query = query.where('owner', '=', filter.owner)
    if (filter.type !== undefined) query = query.where('type', '=', filter.type)
    if (filter.tag !== undefined) {
      const tag = filter.tag
      // tags holds a JSON array of strings.
      query = query.where(this.dialect === 'postgres'
        ? sql<boolean>`jsonb_exists(tags::jsonb, ${tag})`
        : sql<boolean>`EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ${tag})`)
    }
    if (filter.q !== undefined) query = query.where(containsText(this.dialect, ['name', 'description'], filter.q))
    return (await query.orderBy('seq', 'desc').limit(filter.limit).execute()).map(toRow)
  }

  async removeForMedia (mediaId: string, owner: string): Promise<number> {
    const r = await this.db.deleteFrom('oip_records').where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
