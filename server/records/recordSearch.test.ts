/**
 * GET /api/records's search on both databases: each parameter, AND/OR, date ranges, every order
 * with its cursor, page, and access (a private record only ever to its owner).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { AppError } from '../../shared/errors.ts'
import type { AccessLevel } from '../../shared/media.ts'
import type { StoredOipRecord } from '../../shared/record.ts'
import { oipSectionOf } from '../../shared/oipNetworkRecord.ts'
import { addressOf } from '../../shared/wallet.ts'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import type { Db } from '../db/database.ts'
import { DatabaseOipRecordRepository } from './oipRecordRepository.ts'
import { OipRecordService, type OipRecordQuery } from './oipRecordService.ts'

const ALICE = '02' + 'a'.repeat(64)
const BOB = '03' + 'b'.repeat(64)
const CAROL = '02' + 'c'.repeat(64)

interface Stored { name: string, description?: string, tags?: string[], date: number, size: number, owner?: string, access?: AccessLevel, contentType?: string }

/** In the order stored: indexedAt order. Alice's private diary sits among public records. */
const LIBRARY: Stored[] = [
  { name: 'Sunset over the sea', description: 'Filmed from the beach', tags: ['sea', 'evening'], date: 1_700_000_000, size: 3000, contentType: 'video/mp4' },
  { name: 'forest walk', description: 'Into the woods: clip.mp4', tags: ['green'], date: 1_600_000_000, size: 1000, owner: BOB },
  { name: 'Diary', description: 'my sunset notes', tags: ['sea', 'private'], date: 1_650_000_000, size: 2000, access: 'private' },
  { name: 'Beach day', description: '', tags: ['sea', 'sun'], date: 1_735_689_600, size: 500, contentType: 'image/jpeg' },
  { name: 'Été à Nice', description: 'sunshine', tags: ['evening'], date: 1_735_775_999, size: 3000, owner: BOB },
  { name: 'bob secret', description: 'sunset from the boat', tags: ['sea'], date: 1_620_000_000, size: 10, owner: BOB, access: 'private' }
]

const idOf = (name: string): string => createHash('sha256').update(name).digest('hex')

async function library (kind: DatabaseKind, t: TestContext, stored = LIBRARY): Promise<{ service: OipRecordService, save: (s: Stored) => Promise<void>, db: Db, records: DatabaseOipRecordRepository }> {
  const { db, dialect } = await openTestDatabase(kind, t)
  const records = new DatabaseOipRecordRepository(db, dialect)
  const save = async ({ name, description = '', tags = [], date, size, owner = ALICE, access = 'public', contentType = 'application/octet-stream' }: Stored): Promise<void> => {
    const id = idOf(name)
    // The stored JSON is not what is searched: the columns are. It carries the name for the answers' sake.
    await records.save({ recordId: id, mediaId: id, owner, accessLevel: access, type: 'media', section: oipSectionOf(contentType), name, description, tags, date, size, recordJson: JSON.stringify({ basic: { name } }), signature: 'sig', createdAt: '2026-01-01T00:00:00.000Z' })
  }
  for (const s of stored) await save(s)
  // Listing needs no upload facts.
  return { service: new OipRecordService({ records, upload: async () => undefined }), save, db, records }
}

type Query = Omit<OipRecordQuery, 'limit'> & { limit?: number }

const namesOf = (items: StoredOipRecord[]): string[] => items.map(r => r.record.basic.name)

const find = async (service: OipRecordService, query: Query, caller?: string): Promise<string[]> => namesOf((await service.list(caller, { limit: 50, ...query })).items)

/** Every page of a search by its cursor, `limit` at a time. */
async function allPages (service: OipRecordService, query: Query, caller: string | undefined, limit: number): Promise<string[]> {
  const names: string[] = []
  let { cursor } = query
  do {
    const page = await service.list(caller, { ...query, limit, cursor })
    names.push(...namesOf(page.items))
    cursor = page.nextCursor ?? undefined
  } while (cursor !== undefined)
  return names
}

async function refused (fn: () => Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err))
    assert.equal(err.status, 400)
    assert.equal(err.code, code)
    assert.match(err.message, message)
    return true
  })
}

describeEachDatabase('record search', kind => {
  test('search: words of name, description and tags, each a word\'s beginning, in any case; all words (AND) or any (OR)', async t => {
    const { service } = await library(kind, t)
    assert.deepEqual(await find(service, { search: 'SUNSET' }), ['Sunset over the sea'])
    assert.deepEqual(await find(service, { search: 'sun' }), ['Été à Nice', 'Beach day', 'Sunset over the sea'], 'sunshine, the tag sun, Sunset')
    assert.deepEqual(await find(service, { search: 'sunset' }, ALICE), ['Diary', 'Sunset over the sea'], 'her private one to her')
    assert.deepEqual(await find(service, { search: 'woods mp4' }), ['forest walk'], 'punctuation splits words on both databases')
    assert.deepEqual(await find(service, { search: 'beach sea' }), ['Beach day', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { search: 'beach green' }), [], 'AND by default')
    assert.deepEqual(await find(service, { search: 'beach green', searchMatchMode: 'or' }), ['Beach day', 'forest walk', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { search: 'été' }), ['Été à Nice'], 'any letters')
    assert.deepEqual(await find(service, { search: 'ete' }), [], 'accents are not folded')
    assert.deepEqual(await find(service, { search: 'unset' }), [], 'a word\'s beginning, not its middle')
    assert.deepEqual(await find(service, { search: 'sea', q: 'beach' }), ['Beach day', 'Sunset over the sea'], 'q still matches a substring of name or description')
  })

  test('tags: any of them by default (OR), or all (AND); tag is one exact tag', async t => {
    const { service } = await library(kind, t)
    assert.deepEqual(await find(service, { tags: 'green,evening' }), ['Été à Nice', 'forest walk', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { tags: 'sea, evening', tagsMatchMode: 'AND' }), ['Sunset over the sea'])
    assert.deepEqual(await find(service, { tags: 'sea,private', tagsMatchMode: 'AND' }, ALICE), ['Diary'])
    assert.deepEqual(await find(service, { tags: 'sea,private', tagsMatchMode: 'AND' }, BOB), [])
    assert.deepEqual(await find(service, { tags: 'Sea' }), [], 'exact, case included')
    assert.deepEqual(await find(service, { tag: 'sun' }), ['Beach day'])
  })

  test('recordType (or type), creator by public key or address (or owner), source', async t => {
    const { service } = await library(kind, t)
    assert.equal((await find(service, { recordType: 'media' })).length, 4)
    // The OIP section (the RecordType tag of its Arweave item) by its content type: text for anything not image, video or audio.
    assert.deepEqual(await find(service, { recordType: 'video' }), ['Sunset over the sea'])
    assert.deepEqual(await find(service, { recordType: 'image' }), ['Beach day'])
    assert.deepEqual(await find(service, { recordType: 'text' }, BOB), ['bob secret', 'Été à Nice', 'forest walk'])
    assert.deepEqual(await find(service, { recordType: 'audio' }), [])
    assert.deepEqual(await find(service, { recordType: 'post' }), [])
    assert.deepEqual(await find(service, { type: 'media', creator: BOB }), ['Été à Nice', 'forest walk'])
    assert.deepEqual(await find(service, { creator: addressOf(BOB) }, BOB), ['bob secret', 'Été à Nice', 'forest walk'], 'by address, his private one to him')
    assert.deepEqual(await find(service, { creator: addressOf(BOB) }, ALICE), ['Été à Nice', 'forest walk'], 'and not to her')
    assert.deepEqual(await find(service, { owner: ALICE }, ALICE), ['Beach day', 'Diary', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { creator: addressOf(CAROL) }), [], 'an address no record has')
    assert.equal((await find(service, { source: 'local' })).length, 4)
    assert.equal((await find(service, { source: 'all' })).length, 4)
    assert.deepEqual(await find(service, { source: 'arweave' }), [])
  })

  test('source: arweave and gun name where records made here were posted (and only posted ones); gun ones are private, so only to their owner', async t => {
    const { service, db, save, records } = await library(kind, t)
    const at = { attempts: 1, next_attempt_at: 0, last_error: null, lease: null, lease_until: null, created_at: 0, updated_at: 0 }
    const item = (name: string, state: 'queued' | 'posted' | 'confirmed') => ({ ...at, record_id: idOf(name), media_id: idOf(name), owner: ALICE, item_id: `item-${name}`, item: new Uint8Array([1]), state, tx_id: null, posted_at: null })
    await db.insertInto('arweave_publications').values([item('Beach day', 'confirmed'), item('Sunset over the sea', 'posted'), { ...item('forest walk', 'queued'), owner: BOB }]).execute()
    const node = (name: string, owner: string, state: 'queued' | 'posted') => ({ ...at, soul: `soul-${name}`, record_id: idOf(name), media_id: idOf(name), owner, node: '{}', state })
    await db.insertInto('gun_publications').values([node('Diary', ALICE, 'posted'), node('bob secret', BOB, 'queued')]).execute()
    // A tombstone (node null) over a record that is back is no record on GUN; a failed item is not on Arweave.
    await save({ name: 'Old diary', date: 1_600_000_000, size: 5, access: 'private' })
    await db.insertInto('gun_publications').values({ ...node('Old diary', ALICE, 'posted'), node: null }).execute()
    await save({ name: 'Harbour', date: 1_600_000_000, size: 5 })
    await db.insertInto('arweave_publications').values(item('Harbour', 'queued')).execute()
    await db.updateTable('arweave_publications').set({ state: 'failed' }).where('record_id', '=', idOf('Harbour')).execute()
    assert.deepEqual(await find(service, { source: 'arweave' }), ['Beach day', 'Sunset over the sea'], 'posted or confirmed; not queued or failed')
    assert.deepEqual(await find(service, { source: 'gun' }, ALICE), ['Diary'], 'her posted node')
    assert.deepEqual(await find(service, { source: 'gun' }), [], 'private: not to anyone else')
    assert.deepEqual(await find(service, { source: 'gun' }, BOB), [], 'his is not on a relay yet')
    assert.equal((await find(service, { source: 'local' }, ALICE)).length, 7, 'made here, wherever else they are')
    // Read off the gateway and posted from here, in one answer, in order.
    await records.save({ recordId: idOf('Lighthouse'), mediaId: idOf('Lighthouse'), owner: CAROL, accessLevel: 'public', type: 'media', section: 'video', name: 'Lighthouse', description: '', tags: [], date: 1, size: 1, recordJson: JSON.stringify({ basic: { name: 'Lighthouse' } }), signature: 'sig', createdAt: '2026-01-01T00:00:00.000Z', source: 'arweave' })
    assert.deepEqual(await find(service, { source: 'arweave' }), ['Lighthouse', 'Beach day', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { source: 'gun', creator: BOB }, ALICE), [], 'nobody\'s GUN records through another owner')
  })

  test('dateStart and dateEnd, inclusive, on the record\'s date: Unix seconds, an ISO day (dateEnd: to its end) or an ISO time', async t => {
    const { service } = await library(kind, t)
    assert.deepEqual(await find(service, { dateStart: '1700000000' }), ['Été à Nice', 'Beach day', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { dateEnd: '1700000000' }), ['forest walk', 'Sunset over the sea'])
    assert.deepEqual(await find(service, { dateStart: '2025-01-01', dateEnd: '2025-01-01' }), ['Été à Nice', 'Beach day'], 'midnight to 23:59:59 UTC')
    assert.deepEqual(await find(service, { dateStart: '2025-01-01T00:00:01Z' }), ['Été à Nice'])
    assert.deepEqual(await find(service, { dateStart: '2025-01-01T01:00:00+01:00', dateEnd: '2025-01-01T00:00:00Z' }), ['Beach day'])
    assert.deepEqual(await find(service, { dateStart: '2000-01-01', dateEnd: '2020-01-01' }, BOB), [])
    assert.deepEqual(await find(service, { dateStart: '2021-05-01', dateEnd: '2022-01-01' }, BOB), ['bob secret'])
    assert.deepEqual(await find(service, { dateStart: '2021-05-01', dateEnd: '2022-01-01' }, ALICE), [])
  })

  test('sortBy date, name, size and indexedAt, each way; ties by storing order; the cursor pages each order without a gap or a repeat', async t => {
    const { service } = await library(kind, t)
    const orders: Record<string, string[]> = {
      'date:desc': ['Été à Nice', 'Beach day', 'Sunset over the sea', 'Diary', 'forest walk'],
      'date:asc': ['forest walk', 'Diary', 'Sunset over the sea', 'Beach day', 'Été à Nice'],
      date: ['Été à Nice', 'Beach day', 'Sunset over the sea', 'Diary', 'forest walk'],
      // A–Z in either case together; other letters by code point, after them.
      'name:asc': ['Beach day', 'Diary', 'forest walk', 'Sunset over the sea', 'Été à Nice'],
      'name:desc': ['Été à Nice', 'Sunset over the sea', 'forest walk', 'Diary', 'Beach day'],
      'size:asc': ['Beach day', 'forest walk', 'Diary', 'Sunset over the sea', 'Été à Nice'],
      'size:desc': ['Été à Nice', 'Sunset over the sea', 'Diary', 'forest walk', 'Beach day'],
      'indexedAt:asc': ['Sunset over the sea', 'forest walk', 'Diary', 'Beach day', 'Été à Nice'],
      'indexedAt:desc': ['Été à Nice', 'Beach day', 'Diary', 'forest walk', 'Sunset over the sea']
    }
    for (const [sortBy, expected] of Object.entries(orders)) {
      assert.deepEqual(await find(service, { sortBy }, ALICE), expected, sortBy)
      for (const limit of [1, 2, 3]) assert.deepEqual(await allPages(service, { sortBy }, ALICE, limit), expected, `${sortBy} by ${limit}`)
      assert.deepEqual(await allPages(service, { sortBy, search: 'sea sun', searchMatchMode: 'OR' }, ALICE, 2), expected.filter(n => n !== 'forest walk'), `${sortBy}, searched`)
      assert.deepEqual(await allPages(service, { sortBy, tags: 'sea' }, CAROL, 1), [...expected.filter(n => ['Beach day', 'Sunset over the sea'].includes(n))], `${sortBy}, tagged`)
    }
    assert.deepEqual(await find(service, {}, undefined), ['Été à Nice', 'Beach day', 'forest walk', 'Sunset over the sea'], 'indexedAt:desc by default')
  })

  test('a cursor stays where it was while records are stored and removed around it; page counts from the start', async t => {
    const { service, save } = await library(kind, t)
    const first = await service.list(ALICE, { sortBy: 'name:asc', limit: 2 })
    assert.deepEqual(namesOf(first.items), ['Beach day', 'Diary'])
    await save({ name: 'Aardvark', date: 1, size: 1 })
    await save({ name: 'Zebra', date: 1, size: 1 })
    await save({ name: 'diary', date: 1, size: 1 })
    const rest = await allPages(service, { sortBy: 'name:asc', cursor: first.nextCursor! }, ALICE, 2)
    assert.deepEqual(rest, ['diary', 'forest walk', 'Sunset over the sea', 'Zebra', 'Été à Nice'],
      'after Diary: the new records once each in their place (diary ties with Diary and was stored later); Aardvark is before the cursor')
    const second = await service.list(ALICE, { sortBy: 'size:asc', limit: 2, page: '2' })
    const firstTwo = await service.list(ALICE, { sortBy: 'size:asc', limit: 4 })
    assert.deepEqual(second.items, firstTwo.items.slice(2))
    // The default order's cursor is the seq, as it was before sortBy: old cursors still page.
    const plain = await service.list(undefined, { limit: 1 })
    assert.match(plain.nextCursor!, /^\d+$/)
  })

  test('a private record is never found by another key or anonymously, whatever the search', async t => {
    const { service } = await library(kind, t)
    const queries: Query[] = [{}, { search: 'diary' }, { search: 'notes private', searchMatchMode: 'OR' }, { tags: 'private' }, { tag: 'private' },
      { creator: ALICE }, { creator: addressOf(ALICE) }, { owner: ALICE }, { q: 'diary' }, { dateStart: '1650000000', dateEnd: '1650000000' },
      { sortBy: 'name:asc' }, { sortBy: 'size:asc', page: '1' }]
    for (const query of queries) {
      for (const caller of [undefined, BOB, CAROL]) {
        assert.ok(!(await find(service, query, caller)).includes('Diary'), `${JSON.stringify(query)} as ${caller ?? 'anonymous'}`)
      }
      assert.ok((await find(service, query, ALICE)).includes('Diary'), `${JSON.stringify(query)}: its owner finds it`)
    }
  })

  test('each wrong parameter is a 400 that says what to send', async t => {
    const { service } = await library(kind, t, [])
    const cases: Array<[Query, string, RegExp]> = [
      [{ search: '' }, 'bad_query', /search must be 1 to 200 characters/],
      [{ search: '!!! ...' }, 'bad_query', /search must hold at least one word/],
      [{ searchMatchMode: 'XOR' }, 'bad_query', /searchMatchMode must be AND or OR/],
      [{ tags: 'a,,b' }, 'bad_query', /each of tags must be 1 to 64 characters/],
      [{ tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(',') }, 'bad_query', /at most 20 tags/],
      [{ tags: 'a', tag: 'b' }, 'bad_query', /tags or tag, not both/],
      [{ tagsMatchMode: 'ALL' }, 'bad_query', /tagsMatchMode must be AND or OR/],
      [{ recordType: 'x'.repeat(33) }, 'bad_query', /recordType must be 1 to 32 characters/],
      [{ recordType: 'media', type: 'media' }, 'bad_query', /recordType or type, not both/],
      [{ creator: 'alice' }, 'bad_query', /creator must be a public key .* or its address/],
      [{ creator: ALICE, owner: ALICE }, 'bad_query', /creator or owner, not both/],
      [{ dateStart: 'yesterday' }, 'bad_query', /dateStart must be Unix seconds .* or an ISO date/],
      [{ dateEnd: '2025-02-30' }, 'bad_query', /dateEnd must be/],
      [{ dateStart: '2025-01-01T10:00:00' }, 'bad_query', /dateStart must be/],
      [{ dateStart: '2025-01-02', dateEnd: '2025-01-01' }, 'bad_query', /dateStart must not be after dateEnd/],
      [{ source: 'ipfs' }, 'bad_query', /source must be all, local, arweave, gun/],
      [{ sortBy: 'score' }, 'bad_query', /sortBy must be one of indexedAt, date, name, size/],
      [{ sortBy: 'date:up' }, 'bad_query', /optionally followed by :asc or :desc/],
      [{ sortBy: 'toString' }, 'bad_query', /sortBy must be one of/],
      [{ page: '0' }, 'bad_page', /page must be a whole number from 1 to 20; to go further, send the previous page's nextCursor/],
      [{ page: '21' }, 'bad_page', /from 1 to 20/],
      [{ page: '1', cursor: '5' }, 'bad_query', /page or cursor, not both/],
      [{ cursor: 'abc' }, 'bad_cursor', /nextCursor of a previous page, asked with the same sortBy/],
      [{ cursor: '1e30' }, 'bad_cursor', /nextCursor/],
      [{ cursor: '99999999999999999' }, 'bad_cursor', /nextCursor/],
      [{ cursor: '5', sortBy: 'name' }, 'bad_cursor', /same sortBy/]
    ]
    for (const [query, code, message] of cases) await refused(() => service.list(undefined, { limit: 10, ...query }), code, message)
    // A cursor of one order is refused by another.
    const named = await (await library(kind, t)).service.list(undefined, { sortBy: 'name:asc', limit: 1 })
    await refused(() => service.list(undefined, { sortBy: 'name:desc', cursor: named.nextCursor!, limit: 1 }), 'bad_cursor', /same sortBy/)
    await refused(() => service.list(undefined, { sortBy: 'size:asc', cursor: named.nextCursor!, limit: 1 }), 'bad_cursor', /same sortBy/)
  })
})
