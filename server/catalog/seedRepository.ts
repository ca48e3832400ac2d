/**
 * The seeding state in the database: every torrent the server seeds, active or idle, with what
 * decides which are active (pinned, last wanted) and the bytes each sent. The seeder keeps only
 * the active ones in memory and asks here for the rest.
 */
import { randomInt } from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import { LOCK, lockInTransaction } from '../db/advisoryLock.ts'
import type { Db, Dialect } from '../db/database.ts'
import type { SeedsTable } from '../db/schema.ts'

export interface SeedRow {
  infoHash: string
  mediaId: string
  kind: 'public' | 'private'
  pinned: boolean
  /** When someone last wanted it (ms), or null while nobody has. */
  wantedAt: number | null
  /** When last wanted, or else when seeded (ms): the most recent are active first. */
  rankedAt: number
  uploaded: number
}

/** What the seeder learned about a torrent since the last write: when it was wanted, bytes it sent. */
export interface SeedActivity {
  infoHash: string
  wantedAt?: number
  uploaded?: number
}

/** Rows each kind's count is spread over. */
const COUNT_SHARDS = 8

/** A public seed as the seed's SeedInfo and seeder.json describe it. */
export interface PublicSeed {
  infoHash: string
  mediaId: string
  /** The torrent's name (the magnet's dn). */
  name: string
  fileSize: number
  /** When the file became public, so seeded (ms). */
  seededAt: number
  wantedAt: number | null
}

const toSeed = (r: Selectable<SeedsTable>): SeedRow => ({
  infoHash: r.info_hash,
  mediaId: r.media_id,
  kind: r.kind,
  pinned: r.pinned === 1,
  wantedAt: r.wanted_at === null ? null : Number(r.wanted_at),
  rankedAt: Number(r.ranked_at),
  uploaded: Number(r.uploaded)
})

export class SeedRepository {
  private readonly db: Db
  private readonly dialect: Dialect
  /** The count row this handle adds to: one per transaction, so its own adds take rows in one order. */
  private readonly shard = randomInt(COUNT_SHARDS)

  constructor (db: Db, dialect: Dialect) {
    this.db = db
    this.dialect = dialect
  }

  async get (infoHash: string): Promise<SeedRow | undefined> {
    const row = await this.db.selectFrom('seeds').selectAll().where('info_hash', '=', infoHash).executeTakeFirst()
    return row && toSeed(row)
  }

  /** A public file's seed. */
  async publicOf (mediaId: string): Promise<SeedRow | undefined> {
    const row = await this.db.selectFrom('seeds').selectAll().where('media_id', '=', mediaId).where('kind', '=', 'public').executeTakeFirst()
    return row && toSeed(row)
  }

  /** Seed this torrent (a row already there stays as it is). */
  /** Seed this torrent from `at` (ms; `wantedAt`: when it was last wanted, if known). A row already there stays as it is. */
  async add (seed: Pick<SeedRow, 'infoHash' | 'mediaId' | 'kind' | 'pinned'> & { at: number, wantedAt?: number }): Promise<void> {
    this.inTransaction()
    const added = await this.db.insertInto('seeds').values({ info_hash: seed.infoHash, media_id: seed.mediaId, kind: seed.kind, pinned: seed.pinned ? 1 : 0, wanted_at: seed.wantedAt ?? null, ranked_at: Math.max(seed.at, seed.wantedAt ?? 0) })
      .onConflict(oc => oc.column('info_hash').doNothing()).returning('kind').executeTakeFirst()
    if (added) await this.counted(added.kind, 1)
  }

  async remove (infoHash: string): Promise<void> {
    this.inTransaction()
    const removed = await this.db.deleteFrom('seeds').where('info_hash', '=', infoHash).returning('kind').executeTakeFirst()
    if (removed) await this.counted(removed.kind, -1)
  }

  /** Seeds change with their counts, in one transaction: a crash between the two would leave them apart. */
  private inTransaction (): void {
    if (!this.db.isTransaction) throw new Error('seeds are added and removed in a transaction')
  }

  /** Seeds of `kind` added (or removed, negative), in the caller's transaction: see SeedCountsTable. */
  async counted (kind: SeedRow['kind'], delta: number): Promise<void> {
    this.inTransaction()
    await this.db.insertInto('seed_counts').values({ kind, shard: this.shard, n: delta })
      .onConflict(oc => oc.columns(['kind', 'shard']).doUpdateSet(eb => ({ n: eb('seed_counts.n', '+', eb.ref('excluded.n')) }))).execute()
  }

  async setPinned (infoHash: string, pinned: boolean): Promise<void> {
    await this.db.updateTable('seeds').set({ pinned: pinned ? 1 : 0 }).where('info_hash', '=', infoHash).execute()
  }

  /** The `limit` torrents that should be active: pinned first, then the most recently wanted (`offset`: past the first so many). */
  async mostWanted (limit: number, offset = 0): Promise<SeedRow[]> {
    return (await this.db.selectFrom('seeds').selectAll().orderBy('pinned', 'desc').orderBy('ranked_at', 'desc').limit(limit).offset(offset).execute()).map(toSeed)
  }

  /** Public seeds by bytes sent, most first. */
  async topUploaded (limit: number): Promise<SeedRow[]> {
    return (await this.db.selectFrom('seeds').selectAll().where('kind', '=', 'public').orderBy('uploaded', 'desc').limit(limit).execute()).map(toSeed)
  }

  /** Seeds of this kind, or of both: read from the counts' few rows. */
  async count (kind?: SeedRow['kind']): Promise<number> {
    let query = this.db.selectFrom('seed_counts').select(eb => eb.fn.coalesce(eb.fn.sum<number>('n'), eb.lit(0)).as('n'))
    if (kind) query = query.where('kind', '=', kind)
    return Number((await query.executeTakeFirstOrThrow()).n)
  }

  /** In a transaction: other pin changes wait until it ends, so their counts of pinned seeds see each other. */
  async lockPinSlots (): Promise<void> {
    await lockInTransaction(this.db, this.dialect, LOCK.pinSlots)
  }

  /** Pinned seeds: at most the pin cap's rows, found through the rank index. */
  async pinnedCount (): Promise<number> {
    const row = await this.db.selectFrom('seeds').select(eb => eb.fn.countAll<number>().as('n')).where('pinned', '=', 1).executeTakeFirstOrThrow()
    return Number(row.n)
  }

  /**
   * Public seeds with their file's facts, in infoHash order after `after`, a page at a time
   * (getAllSeeding, the seeder.json snapshot); `mediaId` picks one file's.
   */
  async publicSeeds (opts: { limit: number, after?: string, mediaId?: string }): Promise<PublicSeed[]> {
    let query = this.db.selectFrom('seeds as s').innerJoin('blobs as b', 'b.media_id', 's.media_id')
      .select(['s.info_hash', 's.media_id', 's.wanted_at', 'b.name', 'b.file_size', 'b.listed_at'])
      .where('s.kind', '=', 'public')
    // A file's seed is found by (media_id, kind) and a page by (kind, info_hash). Asked for a
    // file's in infoHash order, SQLite walked every public seed in that order instead.
    query = opts.mediaId !== undefined
      ? query.where('s.media_id', '=', opts.mediaId)
      : query.where('s.info_hash', '>', opts.after ?? '').orderBy('s.info_hash')
    const rows = await query.limit(opts.limit).execute()
    return rows.map(r => ({ infoHash: r.info_hash, mediaId: r.media_id, name: r.name, fileSize: Number(r.file_size), seededAt: Number(r.listed_at ?? 0), wantedAt: r.wanted_at === null ? null : Number(r.wanted_at) }))
  }

  /** Write what the seeder noted: later wanted times win, sent bytes add up. Rows gone meanwhile are skipped. */
  async record (activity: SeedActivity[]): Promise<void> {
    for (const a of activity) {
      await this.db.updateTable('seeds')
        .set(eb => ({
          ...(a.wantedAt !== undefined
            ? {
                wanted_at: sql<number>`CASE WHEN wanted_at IS NULL OR wanted_at < ${a.wantedAt} THEN ${a.wantedAt} ELSE wanted_at END`,
                ranked_at: sql<number>`CASE WHEN ranked_at < ${a.wantedAt} THEN ${a.wantedAt} ELSE ranked_at END`
              }
            : {}),
          ...(a.uploaded ? { uploaded: eb('uploaded', '+', a.uploaded) } : {})
        }))
        .where('info_hash', '=', a.infoHash).execute()
    }
  }
}
