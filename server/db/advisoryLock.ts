/**
 * Transaction-scoped locks that make one kind of change wait for another of the same kind on
 * PostgreSQL, where transactions run side by side and a count read in one does not see another's
 * uncommitted rows. Held until commit. SQLite runs one transaction at a time, so nothing is needed.
 */
import { sql } from 'kysely'
import type { Db, Dialect } from './database.ts'

/** The first of PostgreSQL's two lock keys, one per kind of change (apart from kysely's one-key migration lock). */
export const LOCK = {
  /** One owner's new records and pins, checked against their quotas. */
  owner: 0x6f6970,
  /** The server's pin slots (pinned seeds, at most SEED_MAX_ACTIVE / 2). */
  pinSlots: 0x6f6971,
  /** One owner's unfinished resumable uploads, counted against their limit. */
  openUploads: 0x6f6972,
  /** The cluster's leader (cluster/leadership.ts): a session lock, held as long as its connection. */
  leadership: 0x6f6973
} as const

export async function lockInTransaction (db: Db, dialect: Dialect, kind: number, key = ''): Promise<void> {
  if (!db.isTransaction) throw new Error('an advisory lock needs a transaction to hold it')
  if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${kind}, hashtext(${key}))`.execute(db)
}
