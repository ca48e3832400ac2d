import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import { DatabaseRecordRepository } from './databaseRecordRepository.ts'
import type { NewMediaRecord, StorageUse } from './recordRepository.ts'

const ALICE = '02' + 'a'.repeat(64)
const BOB = '03' + 'b'.repeat(64)
/** Above 2^31 and 2^32: a 32-bit integer anywhere on the way would show. */
const BIG = 3 * 2 ** 31 + 7

const mediaIdOf = (text: string): string => createHash('sha256').update(text).digest('hex')

function newRecord (media: string, owner: string, more: Partial<NewMediaRecord> = {}): NewMediaRecord {
  return { mediaId: mediaIdOf(media), owner, accessLevel: 'public', name: null, description: null, originalName: `${media}.bin`, mimeType: 'video/mp4', torrentSalt: null, privateInfoHash: null, fileSize: 1000, ...more }
}

const privateRecord = (media: string, owner: string): NewMediaRecord =>
  newRecord(media, owner, { accessLevel: 'private', torrentSalt: 's'.repeat(64), privateInfoHash: mediaIdOf(`${media} ${owner}`).slice(0, 40) })

/** An admit callback that refuses once the owner holds `files` files. */
const atMost = (files: number) => (use: StorageUse): void => {
  if (use.files >= files) throw new Error(`over quota: ${use.files} files`)
}

/** Records on a fresh database of this kind. */
async function repository (kind: DatabaseKind, t: TestContext): Promise<DatabaseRecordRepository> {
  const { db, dialect } = await openTestDatabase(kind, t)
  return new DatabaseRecordRepository(db, dialect)
}

describeEachDatabase('record repository', kind => {
  test('ensure makes a record once; asked again it answers the stored one unchanged', async t => {
    const records = await repository(kind, t)
    const first = await records.ensure(newRecord('clip', ALICE, { name: 'Clip', description: 'sea' }))
    assert.equal(first.created, true)
    assert.equal(typeof first.record.id, 'number', 'ids are numbers (bigserial is int8 on PostgreSQL)')
    assert.deepEqual({ ...first.record, id: 0, createdAt: '' }, {
      id: 0, mediaId: mediaIdOf('clip'), owner: ALICE, accessLevel: 'public', name: 'Clip', description: 'sea', originalName: 'clip.bin', mimeType: 'video/mp4', torrentSalt: null, privateInfoHash: null, pinned: false, tags: [], createdAt: ''
    })
    assert.ok(Date.parse(first.record.createdAt) > 0)
    const again = await records.ensure(newRecord('clip', ALICE, { name: 'Other', accessLevel: 'private' }))
    assert.deepEqual(again, { record: first.record, created: false })
    assert.deepEqual(await records.get(mediaIdOf('clip'), ALICE), first.record)
    const bobs = await records.ensure(newRecord('clip', BOB))
    assert.equal(bobs.created, true, 'another owner gets their own record of the same media')
    assert.notEqual(bobs.record.id, first.record.id)
  })

  test('the same record ensured several times at once is made once, and every call answers it', async t => {
    const records = await repository(kind, t)
    const answers = await Promise.all(Array.from({ length: 5 }, async () => await records.ensure(newRecord('clip', ALICE))))
    assert.equal(answers.filter(a => a.created).length, 1)
    assert.equal(new Set(answers.map(a => a.record.id)).size, 1)
    assert.equal(await records.count(mediaIdOf('clip')), 1)
  })

  test("admit sees the owner's use before a new record and its refusal stores nothing; an existing record is not admitted again", async t => {
    const records = await repository(kind, t)
    await records.ensure(newRecord('a', ALICE, { fileSize: BIG }))
    const seen: StorageUse[] = []
    await assert.rejects(records.ensure(newRecord('b', ALICE), use => { seen.push(use); throw new Error('over quota') }), /over quota/)
    assert.deepEqual(seen, [{ bytes: BIG, files: 1 }])
    assert.equal(await records.get(mediaIdOf('b'), ALICE), undefined)
    assert.deepEqual(await records.usage(ALICE), { bytes: BIG, files: 1 })
    const existing = await records.ensure(newRecord('a', ALICE), () => { throw new Error('not asked for a record already held') })
    assert.equal(existing.created, false)
  })

  test('records made at once cannot pass a quota together', async t => {
    const records = await repository(kind, t)
    const answers = await Promise.allSettled(Array.from({ length: 6 }, async (_, i) => await records.ensure(newRecord(`file ${i}`, ALICE), atMost(3))))
    assert.equal(answers.filter(a => a.status === 'fulfilled').length, 3)
    for (const a of answers) if (a.status === 'rejected') assert.match(a.reason.message, /over quota: 3 files/)
    assert.deepEqual(await records.usage(ALICE), { bytes: 3000, files: 3 })
  })

  test("a caller's transaction that fails takes the record it ensured with it", async t => {
    const database = await openTestDatabase(kind, t)
    await assert.rejects(database.transaction(async tx => {
      assert.equal((await new DatabaseRecordRepository(tx, database.dialect).ensure(newRecord('clip', ALICE))).created, true)
      throw new Error('later step failed')
    }), /later step failed/)
    assert.equal(await new DatabaseRecordRepository(database.db, database.dialect).get(mediaIdOf('clip'), ALICE), undefined)
  })

  test('usage sums the sizes of the owner\'s files exactly, as numbers, past 2^32; a record without a size counts as a file', async t => {
    const records = await repository(kind, t)
    assert.deepEqual(await records.usage(ALICE), { bytes: 0, files: 0 })
    await records.ensure(newRecord('a', ALICE, { fileSize: BIG }))
    await records.ensure(newRecord('b', ALICE, { fileSize: BIG }))
    await records.ensure(privateRecord('c', ALICE))
    await records.ensure(newRecord('d', ALICE, { fileSize: undefined }))
    await records.ensure(newRecord('a', BOB, { fileSize: BIG }))
    const use = await records.usage(ALICE)
    assert.deepEqual(use, { bytes: 2 * BIG + 1000, files: 4 })
    assert.equal(typeof use.bytes, 'number')
    assert.deepEqual(await records.usage(BOB), { bytes: BIG, files: 1 })
  })

  test('get answers only the owner\'s own record; hasPublic whether anyone holds the media publicly', async t => {
    const records = await repository(kind, t)
    await records.ensure(privateRecord('clip', ALICE))
    assert.equal((await records.get(mediaIdOf('clip'), ALICE))?.accessLevel, 'private')
    assert.equal(await records.get(mediaIdOf('clip'), BOB), undefined)
    assert.equal(await records.get(mediaIdOf('other'), ALICE), undefined)
    assert.equal(await records.hasPublic(mediaIdOf('clip')), false, 'a private record is not public')
    await records.ensure(newRecord('clip', BOB))
    assert.equal(await records.hasPublic(mediaIdOf('clip')), true)
    assert.equal(await records.hasPublic(mediaIdOf('other')), false)
  })

  test('byPrivateInfoHash finds the private record of that torrent; no two records share one', async t => {
    const records = await repository(kind, t)
    const { record } = await records.ensure(privateRecord('clip', ALICE))
    assert.deepEqual(await records.byPrivateInfoHash(record.privateInfoHash!), record)
    assert.equal(await records.byPrivateInfoHash('0'.repeat(40)), undefined)
    await assert.rejects(records.ensure({ ...privateRecord('other', BOB), privateInfoHash: record.privateInfoHash }))
    assert.equal(await records.get(mediaIdOf('other'), BOB), undefined)
    // Public records have none: any number of them.
    await records.ensure(newRecord('a', ALICE))
    await records.ensure(newRecord('b', ALICE))
    assert.deepEqual(await records.usage(ALICE), { bytes: 3000, files: 3 })
  })

  test('pins: setPinned only on the owner\'s record, pinnedCount per owner, hasPinnedPublic only for a pinned public record', async t => {
    const records = await repository(kind, t)
    const pub = mediaIdOf('public')
    const priv = mediaIdOf('private')
    await records.ensure(newRecord('public', ALICE))
    await records.ensure(newRecord('public', BOB))
    await records.ensure(privateRecord('private', ALICE))
    assert.equal(await records.setPinned(pub, '02' + 'c'.repeat(64), true), false, 'no record: nothing pinned')
    assert.equal(await records.hasPinnedPublic(pub), false)
    assert.equal(await records.setPinned(priv, ALICE, true), true)
    assert.equal(await records.hasPinnedPublic(priv), false, 'a pinned private record pins no public torrent')
    assert.equal(await records.setPinned(pub, BOB, true), true)
    assert.equal(await records.hasPinnedPublic(pub), true)
    assert.equal((await records.get(pub, BOB))?.pinned, true)
    assert.equal((await records.get(pub, ALICE))?.pinned, false)
    assert.equal(await records.pinnedCount(ALICE), 1)
    assert.equal(await records.pinnedCount(BOB), 1)
    assert.equal(await records.setPinned(pub, ALICE, true), true)
    assert.equal(await records.pinnedCount(ALICE), 2)
    assert.equal(await records.setPinned(pub, BOB, false), true)
    assert.equal(await records.hasPinnedPublic(pub), true, 'alice still pins it')
    assert.equal(await records.setPinned(pub, ALICE, false), true)
    assert.equal(await records.hasPinnedPublic(pub), false)
    assert.equal(await records.pinnedCount(ALICE), 1)
    assert.equal(typeof await records.pinnedCount(ALICE), 'number')
  })

  test("count counts every owner's records of the media; remove takes only the owner's, once", async t => {
    const records = await repository(kind, t)
    const m = mediaIdOf('clip')
    assert.equal(await records.count(m), 0)
    await records.ensure(newRecord('clip', ALICE))
    await records.ensure(privateRecord('clip', BOB))
    await records.ensure(newRecord('other', ALICE))
    assert.equal(await records.count(m), 2)
    assert.equal(await records.remove(m, ALICE), true)
    assert.equal(await records.remove(m, ALICE), false)
    assert.equal(await records.count(m), 1)
    assert.equal((await records.get(m, BOB))?.accessLevel, 'private')
    assert.equal(await records.count(mediaIdOf('other')), 1)
    assert.deepEqual(await records.usage(ALICE), { bytes: 1000, files: 1 })
  })
})
