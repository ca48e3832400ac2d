import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import { describeEachDatabase } from '../../test/helpers/postgres.ts'
import { openDatabase, type Database } from '../db/database.ts'
import { UploadRepository, type NewUpload } from './uploadRepository.ts'

const upload = (owner: string, more: Partial<NewUpload> = {}): NewUpload => ({
  id: randomBytes(16).toString('hex'),
  owner,
  length: 1000,
  size: 0,
  fileName: 'a.bin',
  mimeType: 'application/octet-stream',
  fields: { accessLevel: 'public' },
  createdAt: 1_000,
  expiresAt: 10_000,
  ...more
})

describeEachDatabase('uploads in the database', kind => {
  let database: Database
  let uploads: UploadRepository
  before(async () => {
    const { options } = await kind.newDatabase()
    database = await openDatabase(options)
    uploads = new UploadRepository(database.db, database.dialect)
  })
  after(async () => { await database.close() })

  test('a row reads back as written, with its checkpoint; an acknowledgement moves the offset and the expiry in one change', async () => {
    const row = upload('reader', { sha256: 'ab'.repeat(32), fields: { accessLevel: 'private', name: 'n', description: 'd', torrentSalt: 'cd'.repeat(32) } })
    assert.deepEqual(await uploads.create(row, 5), { created: true, open: 0 })
    assert.deepEqual(await uploads.get(row.id), row)
    assert.equal(await uploads.checkpoint(row.id), undefined)
    const pieces = new Uint8Array(randomBytes(40))
    await uploads.saveCheckpoint(row.id, { pieceLength: 16384, pieces })
    assert.deepEqual(await uploads.checkpoint(row.id), { pieceLength: 16384, pieces })
    await uploads.acknowledge(row.id, 600, 20_000)
    assert.deepEqual(await uploads.get(row.id), { ...row, size: 600, expiresAt: 20_000 })
    // At start, bytes that never reached the disk: only the offset changes.
    await uploads.acknowledge(row.id, 500)
    assert.deepEqual(await uploads.get(row.id), { ...row, size: 500, expiresAt: 20_000 })
  })

  test('uploads created at once never pass the per-owner limit; finished ones do not count', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, async () => await uploads.create(upload('busy', { length: 100 }), 3)))
    assert.equal(results.filter(r => r.created).length, 3)
    assert.deepEqual(await uploads.openUse('busy'), { bytes: 300, files: 3 })
    assert.deepEqual(await uploads.openUse('nobody'), { bytes: 0, files: 0 })
    const [first] = await uploads.unfinished(100)
    const open = await uploads.unfinishedOf([first!.id, 'f'.repeat(32)])
    assert.deepEqual([...open], [first!.id])

    const done = upload('busy', { length: 100 })
    await uploads.import({ ...done, size: 100 })
    const result = { mediaId: 'ab'.repeat(32), infoHash: 'cd'.repeat(20), magnetURI: 'magnet:?', httpUrl: 'h', torrentUrl: 't', fileSize: 100, mimeType: 'x/y', originalName: 'a', accessLevel: 'public' as const, owner: 'busy', createdAt: 'now' }
    await uploads.finish(done.id, result, 30_000)
    assert.deepEqual(await uploads.get(done.id), { ...done, size: 100, expiresAt: 30_000, result })
    assert.deepEqual(await uploads.openUse('busy'), { bytes: 300, files: 3 })
    assert.deepEqual((await uploads.unfinishedOf([done.id])).size, 0)
  })

  test('an import leaves a row already there as it is', async () => {
    const row = upload('importer', { size: 10 })
    await uploads.import({ ...row, checkpoint: { pieceLength: 16384, pieces: new Uint8Array(20) } })
    await uploads.import({ ...row, size: 999 })
    assert.equal((await uploads.get(row.id))?.size, 10)
    assert.equal((await uploads.checkpoint(row.id))?.pieces.length, 20)
  })

  test('expired uploads page in expiry order; a removal for expiry spares one whose expiry moved on, and only one remover gets the row', async () => {
    const owner = 'sweeper'
    const rows = [upload(owner, { expiresAt: 3 }), upload(owner, { expiresAt: 1, size: 400 }), upload(owner, { expiresAt: 2 }), upload(owner, { expiresAt: 1 }), upload(owner, { expiresAt: 50 })]
    for (const row of rows) await uploads.import(row)
    const expired = []
    for (let after: { expiresAt: number, id: string } | undefined, page; (page = await uploads.expired(5, 2, after)).length > 0; after = page.at(-1)) {
      expired.push(...page.map(p => p.id))
    }
    const byExpiry = rows.slice(0, 4).sort((a, b) => a.expiresAt - b.expiresAt || a.id.localeCompare(b.id)).map(r => r.id)
    assert.deepEqual(expired.filter(id => byExpiry.includes(id)), byExpiry)
    assert.ok(!expired.includes(rows[4]!.id))

    await uploads.acknowledge(rows[0]!.id, 0, 100)
    assert.equal(await uploads.remove(rows[0]!.id, 5), undefined, 'pushed past the sweep by a request meanwhile')
    assert.ok(await uploads.get(rows[0]!.id))
    const removals = await Promise.all([uploads.remove(rows[1]!.id, 5), uploads.remove(rows[1]!.id)])
    assert.deepEqual(removals.filter(Boolean), [{ length: 1000, size: 400, finished: false }])
  })

  test('waiting: the unfinished uploads and the bytes they have yet to send', async () => {
    const { bytes, files } = await uploads.waiting()
    await uploads.import(upload('waiter', { length: 5000, size: 1200 }))
    assert.deepEqual(await uploads.waiting(), { bytes: bytes + 3800, files: files + 1 })
  })
})
