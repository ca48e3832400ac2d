/**
 * A search of /api/records reads its rows through an index, never by reading the whole table:
 * each order from its own index (public records, or one owner's), a text search from the
 * full-text index, tags from their rows, and the caller's own private records from the owner
 * index. Checked by SQLite's query plan, and by PostgreSQL's with sequential scans priced out
 * (its planner would scan a table this small whatever its indexes).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import { migrate } from '../db/migrations.ts'
import type { Schema } from '../db/schema.ts'
import { addressOf } from '../../shared/wallet.ts'
import { postgresUnavailable, sharedPostgres } from '../../test/helpers/postgres.ts'
import { DatabaseOipRecordRepository } from './oipRecordRepository.ts'
import { parseRecordSearch, type RecordSearchParams } from './recordSearch.ts'

const ALICE = '02' + 'a'.repeat(64)
const BOB = '03' + 'b'.repeat(64)

/** Searches a page may be asked for, by whom; what each must read its rows by. */
const SEARCHES: Array<{ params: RecordSearchParams, caller?: string, sqlite: RegExp[], postgres: RegExp[] }> = [
  // With half the records public, PostgreSQL reads the primary key backwards as well.
  { params: {}, sqlite: [/SEARCH oip_records USING INDEX oip_records_public_seq \(access_level=\?\)/], postgres: [/oip_records_public_seq|oip_records_pkey/] },
  { params: { cursor: '3' }, caller: ALICE, sqlite: [/oip_records_public_seq \(access_level=\? AND seq<\?\)/, /oip_records_owner_seq \(owner=\? AND access_level=\? AND seq<\?\)/], postgres: [/oip_records_public_seq/, /oip_records_owner_seq/] },
  ...(['date', 'name_key', 'size'] as const).flatMap(column => {
    const field = column === 'name_key' ? 'name' : column
    return [
      { params: { sortBy: `${field}:asc` }, caller: ALICE, sqlite: [new RegExp(`oip_records_public_${column} \\(access_level=\\?\\)`), new RegExp(`oip_records_owner_${column} \\(owner=\\? AND access_level=\\?\\)`)], postgres: [new RegExp(`oip_records_public_${column}`), new RegExp(`oip_records_owner_${column}`)] },
      { params: { sortBy: `${field}:desc`, creator: BOB }, sqlite: [new RegExp(`oip_records_owner_${column} \\(owner=\\? AND access_level=\\?\\)`)], postgres: [new RegExp(`oip_records_owner_${column}`)] }
    ]
  }),
  { params: { sortBy: 'date', dateStart: '2025-01-01', dateEnd: '2025-12-31' }, sqlite: [/oip_records_public_date \(access_level=\? AND date>\? AND date<\?\)/], postgres: [/oip_records_public_date/] },
  { params: { search: 'sunset beach' }, caller: ALICE, sqlite: [/oip_records_fts VIRTUAL TABLE INDEX/], postgres: [/Bitmap Index Scan on oip_records_search/] },
  { params: { search: 'sunset', sortBy: 'name:asc' }, sqlite: [/oip_records_fts VIRTUAL TABLE INDEX/, /oip_records_public_seq \(access_level=\? AND seq=\?\)/], postgres: [/Bitmap Index Scan on oip_records_search/] },
  { params: { tags: 'sea,sun', sortBy: 'size' }, sqlite: [/SEARCH oip_record_tags USING COVERING INDEX sqlite_autoindex_oip_record_tags_1 \(tag=\?\)/], postgres: [/oip_record_tags_pk/] },
  { params: { tags: 'sea,sun', tagsMatchMode: 'AND' }, caller: BOB, sqlite: [/SEARCH oip_record_tags USING COVERING INDEX sqlite_autoindex_oip_record_tags_1 \(tag=\?\)/], postgres: [/oip_record_tags_pk/] }
]

/** The SQL of the one query of `read` on oip_records (a creator's address is looked up first, by its index). */
async function queriesOf (queries: Array<{ sql: string, parameters: readonly unknown[] }>, read: () => Promise<unknown>): Promise<Array<{ sql: string, parameters: readonly unknown[] }>> {
  queries.length = 0
  await read()
  return [...queries]
}

describe('record searches seek an index (SQLite)', () => {
  const queries: Array<{ sql: string, parameters: readonly unknown[] }> = []
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: new Database(':memory:') }),
    log: event => { if (event.level === 'query') queries.push(event.query) }
  })
  const records = new DatabaseOipRecordRepository(db, 'sqlite')
  before(async () => { await migrate(db, 'sqlite') })
  after(async () => { await db.destroy() })

  for (const { params, caller, sqlite } of SEARCHES) {
    test(`${JSON.stringify(params)}${caller ? ' with a caller' : ''}`, async () => {
      const [query] = await queriesOf(queries, async () => await records.list({ ...parseRecordSearch(params, 10), caller, limit: 10 }))
      const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query!.sql}`, [...query!.parameters]))
      const plan = rows.map(r => r.detail).join('; ')
      for (const expected of sqlite) assert.match(plan, expected)
      // No table is read whole: every read of oip_records is a SEARCH by an index.
      assert.doesNotMatch(plan, /SCAN oip_records\b(?!_fts)|SCAN oip_record_tags/)
      // Sorting is only of the branches' pages when merging them, or of the matches of a search or tags.
      if (params.search === undefined && params.tags === undefined) assert.equal((plan.match(/TEMP B-TREE/g) ?? []).length, caller === undefined ? 0 : 2, plan)
    })
  }

  test("a creator's address is found by its index", async () => {
    const [lookup] = await queriesOf(queries, async () => await records.list({ ...parseRecordSearch({ creator: addressOf(BOB) }, 10), limit: 10 }))
    const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${lookup!.sql}`, [...lookup!.parameters]))
    assert.match(rows.map(r => r.detail).join('; '), /SEARCH oip_records USING INDEX oip_records_address \(owner_address=\?\)/)
  })
})

const unavailable = postgresUnavailable()
describe('record searches seek an index (PostgreSQL)', { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}` }, () => {
  const queries: Array<{ sql: string, parameters: readonly unknown[] }> = []
  let db: Kysely<Schema>
  before(async () => {
    const url = await (await sharedPostgres())!.newDatabase()
    // Sequential scans priced out on every connection: what remains is what the indexes allow.
    db = new Kysely<Schema>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, options: '-c enable_seqscan=off' }) }),
      log: event => { if (event.level === 'query') queries.push(event.query) }
    })
    await migrate(db, 'postgres')
    // PostgreSQL plans by its statistics: 4,000 records of 100 other owners, half private, all
    // with one common tag and word, and ANALYZE, so a rare owner, word or tag is known to be rare.
    await sql`INSERT INTO oip_records (record_id, media_id, owner, owner_address, access_level, type, name, name_key, description, tags, date, size, record_json, signature, created_at)
      SELECT md5(i::text) || md5(i::text), md5(i::text) || md5(i::text), '02' || lpad(to_hex(i % 100), 64, '0'), '', CASE WHEN i % 2 = 0 THEN 'public' ELSE 'private' END,
        'media', 'clip ' || i, 'clip ' || i, 'common words', '["common"]', 1700000000 + i, i, '{}', 'sig', '2026-01-01T00:00:00.000Z'
      FROM generate_series(1, 4000) AS i`.execute(db)
    await sql`INSERT INTO oip_record_tags (seq, tag) SELECT seq, 'common' FROM oip_records`.execute(db)
    await sql`ANALYZE`.execute(db)
  })
  after(async () => { await db?.destroy() })

  for (const { params, caller, postgres } of SEARCHES) {
    test(`${JSON.stringify(params)}${caller ? ' with a caller' : ''}`, async () => {
      const [query] = await queriesOf(queries, async () => await new DatabaseOipRecordRepository(db, 'postgres').list({ ...parseRecordSearch(params, 10), caller, limit: 10 }))
      const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query!.sql}`, [...query!.parameters]))
      const plan = rows.map(r => r['QUERY PLAN']).join('\n')
      for (const expected of postgres) assert.match(plan, expected)
      assert.doesNotMatch(plan, /Seq Scan/, plan)
    })
  }
})
