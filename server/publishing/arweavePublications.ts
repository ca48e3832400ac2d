/**
 * Public records on their way to Arweave, one row per record: the owner's signed data item,
 * byte for byte, and how far it got (queued → posted in a bundle → confirmed; failed, to be
 * tried again). A row whose record is gone (edited, deleted, made private) before it was posted
 * is never posted; once posted it stays (Arweave keeps it). Times are ms.
 */
import { sql, type Selectable } from 'kysely'
import { arweaveDid } from '../../shared/oipNetworkRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import type { Db } from '../db/database.ts'
import type { ArweavePublicationsTable } from '../db/schema.ts'

export type PublicationRow = Selectable<ArweavePublicationsTable>

export interface NewPublication {
  recordId: string
  mediaId: string
  owner: string
  itemId: string
  item: Uint8Array
}

/** The row as the owner's record answers show it; the DID once the item is out there. */
export function publicationOf (row: PublicationRow): Publication {
  const out = row.state === 'posted' || row.state === 'confirmed'
  return {
    network: 'arweave',
    recordId: row.record_id,
    state: row.state,
    ...(out ? { did: arweaveDid(row.item_id) } : {}),
    ...(row.last_error !== null && row.state !== 'confirmed' ? { error: row.last_error } : {}),
    attempts: Number(row.attempts),
    updatedAt: new Date(Number(row.updated_at)).toISOString()
  }
}

const WAITING = ['queued', 'failed'] as const

export class ArweavePublications {
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  async get (recordId: string): Promise<PublicationRow | undefined> {
    return await this.db.selectFrom('arweave_publications').selectAll().where('record_id', '=', recordId).executeTakeFirst()
  }

  /** Queued now; false when the record already has one (left as it is). */
  async add (p: NewPublication, now: number): Promise<boolean> {
    const inserted = await this.db.insertInto('arweave_publications').values({
      record_id: p.recordId,
      media_id: p.mediaId,
      owner: p.owner,
      item_id: p.itemId,
      item: p.item,
      state: 'queued',
      next_attempt_at: now,
      created_at: now,
      updated_at: now
    }).onConflict(oc => oc.doNothing()).returning('record_id').executeTakeFirst()
    return inserted !== undefined
  }

  /** A waiting item goes in the next bundle (Retry); false when it is posted already. */
  async requeue (recordId: string, now: number): Promise<boolean> {
    const r = await this.db.updateTable('arweave_publications').set({ state: 'queued', next_attempt_at: now, updated_at: now })
      .where('record_id', '=', recordId).where('state', 'in', WAITING).executeTakeFirst()
    return r.numUpdatedRows > 0n
  }

  /**
   * Takes up to `limit` due items whose record still exists for one bundle, leased to `lease`
   * until `leaseUntil`: another process (PostgreSQL) takes other items meanwhile, and a crash
   * leaves them to the next publisher once the lease ends.
   */
  async claimDue (now: number, limit: number, lease: string, leaseUntil: number): Promise<PublicationRow[]> {
    const free = sql<boolean>`(lease_until IS NULL OR lease_until < ${now})`
    const due = this.db.selectFrom('arweave_publications as p').innerJoin('oip_records as r', 'r.record_id', 'p.record_id')
      .select('p.record_id').where('p.state', 'in', WAITING).where('p.next_attempt_at', '<=', now)
      .where(sql<boolean>`(p.lease_until IS NULL OR p.lease_until < ${now})`)
      .orderBy('p.next_attempt_at').limit(limit)
    await this.db.updateTable('arweave_publications').set({ lease, lease_until: leaseUntil })
      .where('record_id', 'in', due).where('state', 'in', WAITING).where(free).execute()
    return await this.db.selectFrom('arweave_publications').selectAll().where('lease', '=', lease).orderBy('next_attempt_at').execute()
  }

  async markPosted (recordIds: string[], txId: string, now: number): Promise<void> {
    await this.db.updateTable('arweave_publications')
      .set({ state: 'posted', tx_id: txId, posted_at: now, updated_at: now, last_error: null, lease: null, lease_until: null, attempts: sql`attempts + 1` })
      .where('record_id', 'in', recordIds).execute()
  }

  /** Tried and failed: shown with `error`, tried again `retryIn(attempts)` ms later. */
  async markFailed (rows: PublicationRow[], error: string, now: number, retryIn: (attempts: number) => number): Promise<void> {
    for (const row of rows) {
      const attempts = Number(row.attempts) + 1
      await this.db.updateTable('arweave_publications')
        .set({ state: 'failed', attempts, last_error: error, next_attempt_at: now + retryIn(attempts), updated_at: now, lease: null, lease_until: null })
        .where('record_id', '=', row.record_id).execute()
    }
  }

  /** The bundles posted and not confirmed yet, oldest first, with when they were posted. */
  async postedBundles (limit: number): Promise<Array<{ txId: string, postedAt: number }>> {
    const rows = await this.db.selectFrom('arweave_publications').select(['tx_id', sql<number>`min(posted_at)`.as('posted_at')])
      .where('state', '=', 'posted').groupBy('tx_id').orderBy('posted_at').limit(limit).execute()
    return rows.map(r => ({ txId: r.tx_id!, postedAt: Number(r.posted_at) }))
  }

  async markConfirmed (txId: string, now: number): Promise<void> {
    await this.db.updateTable('arweave_publications').set({ state: 'confirmed', updated_at: now, last_error: null })
      .where('tx_id', '=', txId).where('state', '=', 'posted').execute()
  }

  /** The gateway lost the bundle: its items are queued again, saying so. */
  async requeueBundle (txId: string, error: string, now: number): Promise<void> {
    await this.db.updateTable('arweave_publications').set({ state: 'queued', tx_id: null, posted_at: null, last_error: error, next_attempt_at: now, updated_at: now })
      .where('tx_id', '=', txId).where('state', '=', 'posted').execute()
  }

  /** Items whose record went before they were posted: they never will be. */
  async removeOrphans (): Promise<number> {
    const r = await this.db.deleteFrom('arweave_publications').where('state', 'in', WAITING)
      .where('record_id', 'not in', this.db.selectFrom('oip_records').select('record_id')).executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  /** The publications of these records (one query), by record id. */
  async ofRecords (recordIds: string[]): Promise<Map<string, PublicationRow>> {
    if (recordIds.length === 0) return new Map()
    const rows = await this.db.selectFrom('arweave_publications').selectAll().where('record_id', 'in', recordIds).execute()
    return new Map(rows.map(r => [r.record_id, r]))
  }

  /** The publication of the owner's current record of each file (one query), by media id. */
  async ofOwnerMedia (owner: string, mediaIds: string[]): Promise<Map<string, PublicationRow>> {
    if (mediaIds.length === 0) return new Map()
    const rows = await this.db.selectFrom('arweave_publications as p').innerJoin('oip_records as r', 'r.record_id', 'p.record_id')
      .selectAll('p').where('p.owner', '=', owner).where('p.media_id', 'in', mediaIds).orderBy('p.updated_at').execute()
    // The latest wins where an owner has several records of a file.
    return new Map(rows.map(r => [r.media_id, r]))
  }
}
