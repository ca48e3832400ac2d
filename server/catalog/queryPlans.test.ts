/**
 * Reads that happen per request, per upload or per page of the seeder.json snapshot must seek an
 * index: their cost may not grow with the catalogue. Checked by SQLite's query plan, which needs
 * no million rows to show a scan or a sort of every row.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely'
import { migrate } from '../db/migrations.ts'
import type { Schema } from '../db/schema.ts'
import { BlobRepository } from './blobRepository.ts'
import { Quotas } from '../media/quotas.ts'
import { DatabaseRecordRepository } from '../records/databaseRecordRepository.ts'
import { ShareRepository } from '../records/shareRepository.ts'
import { SeedRepository } from './seedRepository.ts'

const id = (n: number): string => n.toString(16).padStart(64, '0')
const hash = (n: number): string => n.toString(16).padStart(40, '0')

describe('catalogue reads seek an index, whatever the catalogue holds', () => {
  const queries: Array<{ sql: string, parameters: readonly unknown[] }> = []
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: new Database(':memory:') }),
    log: event => { if (event.level === 'query') queries.push(event.query) }
  })
  const blobs = new BlobRepository(db)
  const seeds = new SeedRepository(db, 'sqlite')

  before(async () => {
    await migrate(db, 'sqlite')
    // Five public files, two listed at the same time (the mediaId breaks the tie).
    for (const [n, listedAt] of [[1, 100], [2, 200], [3, 200], [4, 300], [5, 400]] as const) {
      await blobs.insert({ mediaId: id(n), fileSize: n, pieceLength: 16384, info: new Uint8Array(1), name: `f${n}`, mimeType: 'text/plain', infoHash: hash(n), publishedAt: listedAt, createdAt: '' })
      await blobs.setListed(id(n), listedAt)
      await db.transaction().execute(async tx => { await new SeedRepository(tx, 'sqlite').add({ infoHash: hash(n), mediaId: id(n), kind: 'public', pinned: false, at: listedAt }) })
    }
  })
  after(async () => { await db.destroy() })

  /** What `read` answers, and SQLite's plan for the one query it made. */
  async function planned<T> (read: () => Promise<T>): Promise<{ answer: T, plan: string }> {
    queries.length = 0
    const answer = await read()
    assert.equal(queries.length, 1)
    const [query] = queries
    const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query!.sql}`, [...query!.parameters]))
    return { answer, plan: rows.map(r => r.detail).join('; ') }
  }
  const NO_SCAN_OR_SORT = /TEMP B-TREE|MULTI-INDEX OR|\bSCAN\b/

  test('a page of the public listing after a cursor', async () => {
    const { answer, plan } = await planned(async () => await blobs.listed(2, { listedAt: 200, mediaId: id(3) }))
    assert.deepEqual(answer.map(b => b.name), ['f2', 'f1'], 'the files after the cursor, newest first')
    assert.match(plan, /USING INDEX blobs_listed/)
    assert.doesNotMatch(plan, NO_SCAN_OR_SORT)
  })

  test('a page of the public seeds (getAllSeeding, the seeder.json snapshot)', async () => {
    const { answer, plan } = await planned(async () => await seeds.publicSeeds({ limit: 2, after: hash(2) }))
    assert.deepEqual(answer.map(s => s.infoHash), [hash(3), hash(4)], 'the seeds after `after`, in infoHash order')
    assert.match(plan, /seeds_kind_hash \(kind=\? AND info_hash>\?\)/)
    assert.doesNotMatch(plan, NO_SCAN_OR_SORT)
  })

  test("one file's public seed (getSeedingInfo, seedFile)", async () => {
    const { answer, plan } = await planned(async () => await seeds.publicSeeds({ limit: 1, mediaId: id(4) }))
    assert.deepEqual(answer.map(s => [s.infoHash, s.name, s.fileSize]), [[hash(4), 'f4', 4]])
    assert.match(plan, /seeds_media \(media_id=\? AND kind=\?\)/)
    assert.doesNotMatch(plan, NO_SCAN_OR_SORT)
  })

  test("one file's public seed by its mediaId (publicOf)", async () => {
    const { answer, plan } = await planned(async () => await seeds.publicOf(id(2)))
    assert.equal(answer?.infoHash, hash(2))
    assert.match(plan, /seeds_media \(media_id=\? AND kind=\?\)/)
  })

  test('how many seeds there are (stats, /metrics): a few count rows, no seed read', async () => {
    const { answer, plan } = await planned(async () => await seeds.count('public'))
    assert.equal(answer, 5)
    assert.match(plan, /seed_counts/)
    assert.doesNotMatch(plan, /\bseeds\b/)
    assert.equal(await seeds.count('private'), 0)
    const inTransaction = async (change: (s: SeedRepository) => Promise<void>): Promise<void> => { await db.transaction().execute(async tx => { await change(new SeedRepository(tx, 'sqlite')) }) }
    await assert.rejects(seeds.add({ infoHash: hash(98), mediaId: id(5), kind: 'private', pinned: false, at: 1 }), /in a transaction/)
    await inTransaction(async s => { await s.add({ infoHash: hash(99), mediaId: id(5), kind: 'private', pinned: false, at: 1 }) })
    await inTransaction(async s => { await s.add({ infoHash: hash(99), mediaId: id(5), kind: 'private', pinned: false, at: 1 }) })
    assert.equal(await seeds.count(), 6, 'a seed added twice counts once')
    await inTransaction(async s => { await s.remove(hash(99)) })
    await inTransaction(async s => { await s.remove(hash(99)) })
    assert.equal(await seeds.count(), 5, 'and removed twice, once')
  })

  test('how many stored files are missing (/metrics): only the missing ones are read', async () => {
    await blobs.setMissing(id(1), true)
    const { answer, plan } = await planned(async () => await blobs.missingCount())
    assert.equal(answer, 1)
    // A scan of the partial index: it holds the missing files only.
    assert.match(plan, /^SCAN blobs USING COVERING INDEX blobs_missing$/)
    await blobs.setMissing(id(1), false)
  })

  test("a page of the owner's own files after a cursor, with each file's row and seed: one query, by keys", async () => {
    const records = new DatabaseRecordRepository(db, 'sqlite')
    for (const n of [1, 2, 3]) {
      await records.ensure({ mediaId: id(n), owner: 'alice', accessLevel: 'public', name: null, description: null, originalName: `f${n}`, mimeType: 'text/plain', torrentSalt: null, privateInfoHash: null, fileSize: n })
    }
    const all = await records.listByOwner('alice', { limit: 10 })
    const { answer, plan } = await planned(async () => await records.listByOwner('alice', { limit: 10, after: { at: all[0]!.record.createdAt, mediaId: all[0]!.record.mediaId } }))
    assert.deepEqual(answer.map(r => r.record.mediaId), all.slice(1).map(r => r.record.mediaId), 'the records after the cursor, newest first')
    assert.deepEqual(answer.map(r => [r.blob.infoHash, r.seeded]), all.slice(1).map(r => [hash(Number.parseInt(r.record.mediaId, 16)), true]))
    assert.match(plan, /media_records_owner_created/)
    assert.match(plan, /SEARCH b USING INDEX sqlite_autoindex_blobs_1 \(media_id=\?\)/)
    assert.match(plan, /SEARCH s USING (COVERING )?INDEX sqlite_autoindex_seeds_1 \(info_hash=\?\)/)
    assert.doesNotMatch(plan, NO_SCAN_OR_SORT)
    // A search reads the owner's records only, in the listing's order.
    const found = await planned(async () => await records.listByOwner('alice', { limit: 10, q: 'F2' }))
    assert.deepEqual(found.answer.map(r => r.record.mediaId), [id(2)])
    assert.match(found.plan, /media_records_owner_created \(owner=\?\)/)
    assert.doesNotMatch(found.plan, NO_SCAN_OR_SORT)
  })

  test("an admin's use is not summed (the one use no quota bounds): useOf reads nothing, and a record made without a quota check sums nothing", async () => {
    const records = new DatabaseRecordRepository(db, 'sqlite')
    const quotas = new Quotas({ bytesPerKey: 1, filesPerKey: 1, pinsPerKey: 1, adminKeys: ['admin'] })
    assert.deepEqual(await quotas.useOf('admin', { usage: async () => { throw new Error('summed') } }), { bytes: 0, files: 0 })
    assert.equal(quotas.exempt('admin'), true)
    assert.equal(quotas.exempt('someone'), false)
    queries.length = 0
    await db.transaction().execute(async tx => {
      await new DatabaseRecordRepository(tx, 'sqlite').ensure({ mediaId: id(4), owner: 'admin', accessLevel: 'public', name: null, description: null, originalName: 'f4', mimeType: 'text/plain', torrentSalt: null, privateInfoHash: null, fileSize: 4 })
    })
    assert.ok(queries.length > 0)
    assert.ok(!queries.some(q => /\bsum\(/i.test(q.sql)), queries.map(q => q.sql).join('\n'))
    assert.equal((await records.get(id(4), 'admin'))?.owner, 'admin')
  })

  test('shares: may this key read this file, a page of "shared with me" after a cursor, the shares of a page of my files, the expired ones to sweep', async () => {
    const records = new DatabaseRecordRepository(db, 'sqlite')
    const shares = new ShareRepository(db)
    for (const n of [11, 12, 13]) {
      await blobs.insert({ mediaId: id(n), fileSize: n, pieceLength: 16384, info: new Uint8Array(1), name: `f${n}`, mimeType: 'text/plain', infoHash: hash(n + 100), publishedAt: 1, createdAt: '' })
      await records.ensure({ mediaId: id(n), owner: 'carol', accessLevel: 'private', name: null, description: null, originalName: `f${n}`, mimeType: 'text/plain', torrentSalt: 's', privateInfoHash: hash(n), fileSize: n })
      await shares.put({ mediaId: id(n), owner: 'carol', recipient: 'bob', expiresAt: null }, n)
    }
    const readable = await planned(async () => await shares.readable(id(12), 'bob', 0))
    assert.equal(readable.answer?.record.mediaId, id(12))
    assert.match(readable.plan, /media_shares_readable \(media_id=\? AND recipient=\?\)/)
    assert.doesNotMatch(readable.plan, /\bSCAN\b/)
    const page = await planned(async () => await shares.sharedWith('bob', 0, 10, { at: 13, mediaId: id(13), owner: 'carol' }))
    assert.deepEqual(page.answer.map(s => s.record.mediaId), [id(12), id(11)], 'the shares after the cursor, newest first')
    assert.match(page.plan, /media_shares_recipient/)
    assert.doesNotMatch(page.plan, NO_SCAN_OR_SORT)
    const mine = await planned(async () => await shares.ofRecords('carol', [id(11), id(13)], 0))
    assert.deepEqual([...mine.answer.keys()], [id(11), id(13)])
    assert.match(mine.plan, /media_shares_pk|sqlite_autoindex_media_shares/)
    assert.doesNotMatch(mine.plan, /\bSCAN\b/)
    const sweep = await planned(async () => await shares.removeExpiredBatch(0, 100))
    assert.equal(sweep.answer, 0)
    assert.match(sweep.plan, /media_shares_expires \(expires_at<\?\)/, 'the expired shares, by their expiry')
    assert.doesNotMatch(sweep.plan, NO_SCAN_OR_SORT)
  })
})
