/**
 * Signed OIP records, stored as their canonical JSON plus the columns searches filter and sort
 * on, in the database (SQLite or PostgreSQL), their tags one row each. `seq` is insertion order:
 * the default order, and the tie-break of every other.
 */
import { sql, type RawBuilder, type Selectable, type SelectQueryBuilder } from 'kysely'
import type { AccessLevel } from '../../shared/media.ts'
import { canonicalRecord, recordId, type OipMediaRecord } from '../../shared/record.ts'
import { OIP_SECTIONS, oipSectionOf, type OipSectionName } from '../../shared/oipNetworkRecord.ts'
import { addressOf } from '../../shared/wallet.ts'
import { containsText, foldAscii } from '../catalog/textQuery.ts'
import type { Db, Dialect } from '../db/database.ts'
import type { OipRecordsTable, Schema } from '../db/schema.ts'
import { fullTextMatch } from './recordFullText.ts'
import { SORT_COLUMNS, type RecordSearch, type RecordSource } from './recordSearch.ts'
import { RecordThumbnails } from './recordThumbnails.ts'

export interface OipRecordRow {
  /** Insertion order: the default paging cursor. */
  seq: number
  recordId: string
  mediaId: string
  owner: string
  accessLevel: AccessLevel
  type: string
  /** The OIP section its content type puts it in (oipSectionOf): image, video, audio or text. */
  section: OipSectionName
  name: string
  description: string
  tags: string[]
  /** record.basic.date (Unix seconds) and record.media.size, the orders of sortBy. */
  date: number
  size: number
  /** The name as sortBy=name orders it. */
  nameKey: string
  /** The canonical JSON that was signed, byte for byte. */
  recordJson: string
  signature: string
  createdAt: string
  /** Made here (local), or read from the OIP network by an indexer. */
  source: RecordSource
}

/**
 * `thumbnails`: what record.media.thumbnails names, if anything (recordThumbnails.ts keeps them
 * beside the row). `source`: local when not given.
 */
export type NewOipRecordRow = Omit<OipRecordRow, 'seq' | 'nameKey' | 'source'> & { thumbnails?: string[], source?: RecordSource }

/** A signed record's row: its id, canonical JSON and the columns searches read, all from the record. */
export function newRecordRow (record: OipMediaRecord, signature: string, createdAt: Date, more: Pick<NewOipRecordRow, 'thumbnails' | 'source'> = {}): NewOipRecordRow {
  return {
    recordId: recordId(record),
    mediaId: record.media.mediaId,
    owner: record.accessControl.owner_public_key,
    accessLevel: record.accessControl.access_level,
    type: record.type,
    section: oipSectionOf(record.media.contentType),
    name: record.basic.name,
    description: record.basic.description,
    tags: record.basic.tagItems,
    date: record.basic.date,
    size: record.media.size,
    recordJson: canonicalRecord(record),
    signature,
    createdAt: createdAt.toISOString(),
    ...more
  }
}

/** A search (recordSearch.ts) as the caller may see it: everyone's public records, and their own private ones. */
export interface OipRecordFilter extends Omit<RecordSearch, 'creator'> {
  creator?: RecordSearch['creator']
  caller?: string
  limit: number
}

export interface OipRecordRepository {
  /** Stores the row, or returns the one already stored under its recordId (unchanged: a local record stays local). */
  save (row: NewOipRecordRow): Promise<{ row: OipRecordRow, created: boolean }>
  /** A stored record's signature, replaced (a legacy one by its owner's re-signature); the row after. */
  replaceSignature (recordId: string, signature: string): Promise<OipRecordRow>
  get (recordId: string): Promise<OipRecordRow | undefined>
  /** The records that match, in the search's order, that the caller may see. */
  list (filter: OipRecordFilter): Promise<OipRecordRow[]>
  /** Every record of this owner for this media, with the thumbnails they name; returns how many went. */
  removeForMedia (mediaId: string, owner: string): Promise<number>
}

type RecordQuery = SelectQueryBuilder<Schema, 'oip_records', Selectable<OipRecordsTable>>

const toRow = (r: Selectable<OipRecordsTable>): OipRecordRow => ({
  seq: r.seq,
  recordId: r.record_id,
  mediaId: r.media_id,
  owner: r.owner,
  accessLevel: r.access_level,
  type: r.type,
  section: r.section as OipSectionName,
  name: r.name,
  description: r.description,
  tags: JSON.parse(r.tags) as string[],
  date: Number(r.date),
  size: Number(r.size),
  nameKey: r.name_key,
  recordJson: r.record_json,
  signature: r.signature,
  createdAt: r.created_at,
  source: r.source
})

export class DatabaseOipRecordRepository implements OipRecordRepository {
  private readonly db: Db
  private readonly dialect: Dialect

  constructor (db: Db, dialect: Dialect) {
    this.db = db
    this.dialect = dialect
  }

  async save (row: NewOipRecordRow): Promise<{ row: OipRecordRow, created: boolean }> {
    const run = async (db: Db): Promise<boolean> => {
      // One statement decides, so two saves of the same record at once still make one row.
      const inserted = await db.insertInto('oip_records').values({
        record_id: row.recordId,
        media_id: row.mediaId,
        owner: row.owner,
        owner_address: addressOf(row.owner),
        access_level: row.accessLevel,
        type: row.type,
        section: row.section,
        name: row.name,
        name_key: foldAscii(row.name),
        description: row.description,
        tags: JSON.stringify(row.tags),
        date: row.date,
        size: row.size,
        record_json: row.recordJson,
        signature: row.signature,
        created_at: row.createdAt,
        source: row.source ?? 'local'
      }).onConflict(oc => oc.column('record_id').doNothing()).returning('seq').executeTakeFirst()
      const tags = [...new Set(row.tags)]
      if (inserted && tags.length > 0) await db.insertInto('oip_record_tags').values(tags.map(tag => ({ seq: inserted.seq, tag }))).execute()
      if (inserted) await new RecordThumbnails(db).add(row)
      return inserted !== undefined
    }
    // The row, its tags and its thumbnails together: a search by tag never misses a stored record.
    const created = this.db.isTransaction ? await run(this.db) : await this.db.transaction().execute(run)
    return { row: (await this.get(row.recordId))!, created }
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
    const owner = await this.ownerOf(filter.creator)
    if (owner === null) return []
    const { caller, limit, offset } = filter
    // Public records, and the caller's private ones (none of anyone else's): each an index read
    // in order, by (access_level, key, seq), or (owner, access_level, key, seq) for one owner.
    const key = this.sortKey(filter)
    const pub = this.ordered(this.matching(filter, owner, key).where('access_level', '=', 'public'), filter, key)
    const own = caller !== undefined && (owner === undefined || owner === caller)
      ? this.ordered(this.matching(filter, caller, key).where('access_level', '=', 'private'), filter, key)
      : undefined
    const page = async (query: RecordQuery): Promise<OipRecordRow[]> => (await query.limit(limit).offset(offset).execute()).map(toRow)
    // Records on GUN are private: only the caller's own branch can have any.
    if (filter.source === 'gun') return own === undefined ? [] : await page(own)
    if (own === undefined) return await page(pub)
    // Each branch gives at most the rows up to the page's end, in order; the merge takes the page.
    return await page(this.ordered(this.db.selectFrom(pub.limit(offset + limit).as('pub')).selectAll().unionAll(
      this.db.selectFrom(own.limit(offset + limit).as('own')).selectAll()
    ) as unknown as RecordQuery, filter))
  }

  /** The key a `creator` names; null when no stored record has that address. */
  private async ownerOf (creator: OipRecordFilter['creator']): Promise<string | undefined | null> {
    if (creator === undefined) return undefined
    if ('publicKey' in creator) return creator.publicKey
    const row = await this.db.selectFrom('oip_records').select('owner').where('owner_address', '=', creator.address).limit(1).executeTakeFirst()
    return row?.owner ?? null
  }

  /** The rows (of one owner, when given) that pass every filter and come after the cursor. */
  private matching (filter: OipRecordFilter, owner: string | undefined, key: RawBuilder<unknown>): RecordQuery {
    let query = this.db.selectFrom('oip_records').selectAll()
    if (owner !== undefined) query = query.where('owner', '=', owner)
    // `media` (every record made here is one), or the OIP section its Arweave item is tagged with.
    if (filter.recordType !== undefined) query = query.where(OIP_SECTIONS.includes(filter.recordType as OipSectionName) ? 'section' : 'type', '=', filter.recordType)
    if (filter.source !== undefined) query = this.from(query, filter.source)
    if (filter.dateStart !== undefined) query = query.where('date', '>=', filter.dateStart)
    if (filter.dateEnd !== undefined) query = query.where('date', '<=', filter.dateEnd)
    if (filter.tags !== undefined) {
      const tagged = (tags: string[]) => this.db.selectFrom('oip_record_tags').select('seq').where('tag', 'in', tags)
      // AND: in the set of every tag; OR: in the set of any.
      for (const tags of filter.tagsMode === 'AND' ? filter.tags.map(t => [t]) : [filter.tags]) query = query.where('seq', 'in', tagged(tags))
    }
    if (filter.words !== undefined) query = query.where(fullTextMatch(this.dialect, filter.words, filter.searchMode))
    if (filter.q !== undefined) query = query.where(containsText(this.dialect, ['name', 'description'], filter.q))
    const { after, sort } = filter
    if (after !== undefined) {
      const op = sort.direction === 'desc' ? '<' : '>'
      query = SORT_COLUMNS[sort.field] === 'seq'
        ? query.where('seq', op, after.seq)
        : query.where(sql<boolean>`(${key}, seq) ${sql.raw(op)} (${after.key}, ${after.seq})`)
    }
    return query
  }

  /**
   * Where the records live: `local`, made here; `arweave`, read off the gateway by the indexer or
   * made here and posted there; `gun`, made here and held by a GUN relay (sealed, so private:
   * only their owner is answered them).
   */
  private from (query: RecordQuery, source: RecordSource): RecordQuery {
    if (source === 'local') return query.where('source', '=', 'local')
    // Each a probe of the row's own publication by its key (EXISTS, not a set of every posted id).
    // A GUN row that is a tombstone (node null) holds no record any more.
    if (source === 'gun') {
      return query.where(eb => eb.exists(eb.selectFrom('gun_publications as g').select('g.soul')
        .whereRef('g.record_id', '=', 'oip_records.record_id').where('g.state', '=', 'posted').where('g.node', 'is not', null)))
    }
    return query.where(eb => eb.or([
      eb('source', '=', 'arweave'),
      eb.exists(eb.selectFrom('arweave_publications as a').select('a.record_id').whereRef('a.record_id', '=', 'oip_records.record_id').where('a.state', 'in', ['posted', 'confirmed']))
    ]))
  }

  /**
   * The column the search orders by, as a branch reads it. With a text search or tags, SQLite is
   * kept from walking that order's index (`+`): without statistics it would read rows in that
   * order until a page of matches came, every row for a rare word; it reads the matches by their
   * index and sorts them instead, as PostgreSQL chooses by its statistics.
   */
  private sortKey (filter: OipRecordFilter): RawBuilder<unknown> {
    const column = sql.ref(SORT_COLUMNS[filter.sort.field])
    return this.dialect === 'sqlite' && (filter.words !== undefined || filter.tags !== undefined) ? sql`+${column}` : column
  }

  /** In the search's order, ties by seq; `key`: the sort column as sortKey gives it, for a branch. */
  private ordered (query: RecordQuery, { sort }: OipRecordFilter, key: RawBuilder<unknown> | string = SORT_COLUMNS[sort.field]): RecordQuery {
    const byKey = SORT_COLUMNS[sort.field] === 'seq' ? query : query.orderBy(key as never, sort.direction)
    return byKey.orderBy('seq', sort.direction)
  }

  async removeForMedia (mediaId: string, owner: string): Promise<number> {
    await new RecordThumbnails(this.db).removeForMedia(mediaId, owner)
    const r = await this.db.deleteFrom('oip_records').where('media_id', '=', mediaId).where('owner', '=', owner).executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}
