/**
 * Signed OIP records, stored as their canonical JSON plus the columns listings filter on.
 * SQLite is the embedded default; another database can take its place behind the interface.
 */
import type { AccessLevel } from '../../shared/media.ts'
import type { Db } from './database.ts'

/**
 * For database.ts's MIGRATIONS. `seq` aliases the rowid so paging cursors stay stable: SQLite
 * may renumber an implicit rowid on VACUUM, never an INTEGER PRIMARY KEY.
 */
export const OIP_RECORDS_MIGRATION = `CREATE TABLE oip_records (
     seq          INTEGER PRIMARY KEY,
     record_id    TEXT NOT NULL UNIQUE,
     media_id     TEXT NOT NULL,
     owner        TEXT NOT NULL,
     access_level TEXT NOT NULL CHECK (access_level IN ('public', 'private')),
     type         TEXT NOT NULL,
     name         TEXT NOT NULL,
     description  TEXT NOT NULL,
     tags         TEXT NOT NULL,
     record_json  TEXT NOT NULL,
     signature    TEXT NOT NULL,
     created_at   TEXT NOT NULL
   );
   CREATE INDEX oip_records_owner ON oip_records (owner);
   CREATE INDEX oip_records_media ON oip_records (media_id, owner);`

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
  save (row: NewOipRecordRow): { row: OipRecordRow, created: boolean }
  /** A stored record's signature, replaced (a legacy one by its owner's re-signature); the row after. */
  replaceSignature (recordId: string, signature: string): OipRecordRow
  get (recordId: string): OipRecordRow | undefined
  /** Public records plus the caller's private ones, newest first. */
  list (filter: OipRecordFilter): OipRecordRow[]
  /** Every record of this owner for this media; returns how many went. */
  removeForMedia (mediaId: string, owner: string): number
}

interface Row {
  seq: number
  record_id: string
  media_id: string
  owner: string
  access_level: AccessLevel
  type: string
  name: string
  description: string
  tags: string
  record_json: string
  signature: string
  created_at: string
}

const toRow = (r: Row): OipRecordRow => ({
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

/** `q` is matched literally: LIKE's wildcards in it are escaped. */
const likePattern = (q: string): string => `%${q.replace(/[\\%_]/g, ch => `\\${ch}`)}%`

export class SqliteOipRecordRepository implements OipRecordRepository {
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  save (row: NewOipRecordRow): { row: OipRecordRow, created: boolean } {
    // One statement decides, so two saves of the same record at once still make one row.
    const info = this.db.prepare(`INSERT INTO oip_records (record_id, media_id, owner, access_level, type, name, description, tags, record_json, signature, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`)
      .run(row.recordId, row.mediaId, row.owner, row.accessLevel, row.type, row.name, row.description,
        JSON.stringify(row.tags), row.recordJson, row.signature, row.createdAt)
    return { row: this.get(row.recordId)!, created: info.changes === 1 }
  }

  replaceSignature (recordId: string, signature: string): OipRecordRow {
    this.db.prepare('UPDATE oip_records SET signature = ? WHERE record_id = ?').run(signature, recordId)
    return this.get(recordId)!
  }

  get (recordId: string): OipRecordRow | undefined {
    const row = this.db.prepare('SELECT * FROM oip_records WHERE record_id = ?').get(recordId) as Row | undefined
    return row && toRow(row)
  }

  list (filter: OipRecordFilter): OipRecordRow[] {
    const where = ["(access_level = 'public' OR owner = @caller)", 'seq < @after']
    if (filter.owner !== undefined) where.push('owner = @owner')
    if (filter.type !== undefined) where.push('type = @type')
    if (filter.tag !== undefined) where.push('EXISTS (SELECT 1 FROM json_each(tags) WHERE value = @tag)')
    if (filter.q !== undefined) where.push("(name LIKE @q ESCAPE '\\' OR description LIKE @q ESCAPE '\\')")
    const rows = this.db.prepare(`SELECT * FROM oip_records WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT @limit`).all({
      // An anonymous caller matches no owner (NULL = x is never true).
      caller: filter.caller ?? null,
      after: filter.after ?? Number.MAX_SAFE_INTEGER,
      owner: filter.owner ?? null,
      type: filter.type ?? null,
      tag: filter.tag ?? null,
      q: filter.q === undefined ? null : likePattern(filter.q),
      limit: filter.limit
    }) as Row[]
    return rows.map(toRow)
  }

  removeForMedia (mediaId: string, owner: string): number {
    return this.db.prepare('DELETE FROM oip_records WHERE media_id = ? AND owner = ?').run(mediaId, owner).changes
  }
}
