/**
 * Private records' sealed GUN nodes on their way to the relays, one row per soul: the owner's
 * ciphertext and how far it got (queued → posted; failed, to be tried again). When the record
 * goes (file deleted, record edited or made public) and no newer record took the soul, the row's
 * node becomes a tombstone that is put in its place. The row stays (a posted tombstone): the soul
 * remains its owner's here, so nobody who read it off a relay can take it from them.
 * Times are ms.
 */
import { sql, type Selectable } from 'kysely'
import type { GunRecordNode } from '../../shared/gunRecord.ts'
import { gunDid } from '../../shared/oipNetworkRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import type { Db } from '../db/database.ts'
import type { GunPublicationsTable } from '../db/schema.ts'

export type GunPublicationRow = Selectable<GunPublicationsTable>

export interface NewGunPublication {
  soul: string
  recordId: string
  mediaId: string
  owner: string
  node: GunRecordNode
}

/** The row as the owner's record answers show it: the soul is known from the start. */
export function gunPublicationOf (row: GunPublicationRow): Publication {
  return {
    network: 'gun',
    recordId: row.record_id,
    state: row.state,
    did: gunDid(row.soul),
    ...(row.last_error !== null && row.state !== 'posted' ? { error: row.last_error } : {}),
    attempts: Number(row.attempts),
    updatedAt: new Date(Number(row.updated_at)).toISOString()
  }
}

const WAITING = ['queued', 'failed'] as const

export class GunPublications {
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  async get (soul: string): Promise<GunPublicationRow | undefined> {
    return await this.db.selectFrom('gun_publications').selectAll().where('soul', '=', soul).executeTakeFirst()
  }

  /** The owner's row of a file: its one soul here. */
  async ofOwnerFile (owner: string, mediaId: string): Promise<GunPublicationRow | undefined> {
    return await this.db.selectFrom('gun_publications').selectAll().where('owner', '=', owner).where('media_id', '=', mediaId).executeTakeFirst()
  }

  async ofRecord (recordId: string): Promise<GunPublicationRow | undefined> {
    return await this.db.selectFrom('gun_publications').selectAll().where('record_id', '=', recordId).executeTakeFirst()
  }

  /**
   * Queued now, in place of what the soul held (an older record of the file, a tombstone not yet
   * put); false when another owner holds the soul (left as it is).
   */
  async put (p: NewGunPublication, now: number): Promise<boolean> {
    const fresh = { record_id: p.recordId, media_id: p.mediaId, node: JSON.stringify(p.node), state: 'queued' as const, attempts: 0, next_attempt_at: now, last_error: null, lease: null, lease_until: null, updated_at: now }
    const done = await this.db.insertInto('gun_publications').values({ soul: p.soul, owner: p.owner, created_at: now, ...fresh })
      .onConflict(oc => oc.column('soul').doUpdateSet(fresh).where('gun_publications.owner', '=', p.owner))
      .returning('soul').executeTakeFirst()
    return done !== undefined
  }

  /** A waiting node is put next (Retry); false when it is posted already. */
  async requeue (soul: string, now: number): Promise<boolean> {
    const r = await this.db.updateTable('gun_publications').set({ state: 'queued', next_attempt_at: now, updated_at: now })
      .where('soul', '=', soul).where('state', 'in', WAITING).executeTakeFirst()
    return r.numUpdatedRows > 0n
  }

  /** Nodes whose record is gone become tombstones, due now; how many. */
  async tombstoneGone (now: number): Promise<number> {
    const r = await this.db.updateTable('gun_publications')
      .set({ node: null, state: 'queued', attempts: 0, last_error: null, next_attempt_at: now, updated_at: now, lease: null, lease_until: null })
      .where('node', 'is not', null)
      .where('record_id', 'not in', this.db.selectFrom('oip_records').select('record_id')).executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  /** Up to `limit` due nodes, leased to `lease` until `leaseUntil` (another process takes others). */
  async claimDue (now: number, limit: number, lease: string, leaseUntil: number): Promise<GunPublicationRow[]> {
    const free = sql<boolean>`(lease_until IS NULL OR lease_until < ${now})`
    const due = this.db.selectFrom('gun_publications').select('soul').where('state', 'in', WAITING).where('next_attempt_at', '<=', now)
      .where(free).orderBy('next_attempt_at').limit(limit)
    await this.db.updateTable('gun_publications').set({ lease, lease_until: leaseUntil })
      .where('soul', 'in', due).where('state', 'in', WAITING).where(free).execute()
    return await this.db.selectFrom('gun_publications').selectAll().where('lease', '=', lease).orderBy('next_attempt_at').execute()
  }

  /**
   * A relay has them: nodes and tombstones are posted. Only rows still under this lease: one
   * that a new record of the file took meanwhile stays queued.
   */
  async markPosted (souls: string[], lease: string, now: number): Promise<void> {
    if (souls.length === 0) return
    await this.db.updateTable('gun_publications')
      .set({ state: 'posted', last_error: null, lease: null, lease_until: null, updated_at: now, attempts: sql`attempts + 1` })
      .where('soul', 'in', souls).where('lease', '=', lease).execute()
  }

  /** Tried and failed: shown with `error`, tried again `retryIn(attempts)` ms later. */
  async markFailed (row: GunPublicationRow, lease: string, error: string, now: number, retryIn: (attempts: number) => number): Promise<void> {
    const attempts = Number(row.attempts) + 1
    await this.db.updateTable('gun_publications')
      .set({ state: 'failed', attempts, last_error: error, next_attempt_at: now + retryIn(attempts), updated_at: now, lease: null, lease_until: null })
      .where('soul', '=', row.soul).where('lease', '=', lease).execute()
  }

  /** The owner's publications of these records (one query), by record id. */
  async ofRecords (recordIds: string[], owner: string): Promise<Map<string, GunPublicationRow>> {
    if (recordIds.length === 0) return new Map()
    const rows = await this.db.selectFrom('gun_publications').selectAll().where('record_id', 'in', recordIds).where('owner', '=', owner).execute()
    return new Map(rows.map(r => [r.record_id, r]))
  }

  /** The publication of the owner's current record of each file (one query), by media id. */
  async ofOwnerMedia (owner: string, mediaIds: string[]): Promise<Map<string, GunPublicationRow>> {
    if (mediaIds.length === 0) return new Map()
    const rows = await this.db.selectFrom('gun_publications as p').innerJoin('oip_records as r', 'r.record_id', 'p.record_id')
      .selectAll('p').where('p.owner', '=', owner).where('p.media_id', 'in', mediaIds).orderBy('p.updated_at').execute()
    return new Map(rows.map(r => [r.media_id, r]))
  }
}
