import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { describeEachDatabase } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import type { PublicSeed } from '../catalog/seedRepository.ts'
import { SeederJsonMark } from '../catalog/seederJsonMark.ts'
import { silentLogger } from '../logger.ts'
import { SeedingSnapshot } from './seedingSnapshot.ts'

const seed = (n: number): PublicSeed => ({ infoHash: n.toString(16).padStart(40, '0'), mediaId: n.toString(16).padStart(64, '0'), name: `f${n}`, fileSize: n, seededAt: n, wantedAt: null })

describeEachDatabase("seeder.json's stale mark", kind => {
  async function setup (t: TestContext, seeds: (mark: SeederJsonMark) => AsyncIterable<PublicSeed>): Promise<{ file: string, mark: SeederJsonMark, snapshot: SeedingSnapshot }> {
    const { db } = await openTestDatabase(kind, t)
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-snapshot-'))
    t.after(async () => { await fs.rm(dir, { recursive: true, force: true }) })
    const file = path.join(dir, 'seeder.json')
    const mark = new SeederJsonMark(db)
    return { file, mark, snapshot: new SeedingSnapshot({ file, mark, seeds: () => seeds(mark), publicSeeds: async () => 20, log: silentLogger() }) }
  }

  test('a write clears the mark it read; a change made during the write keeps the mark', async t => {
    let changeDuringWrite = true
    const { file, mark, snapshot } = await setup(t, async function * (mark) {
      yield seed(1)
      // A file listed while the snapshot streams: it may be missing from this write.
      if (changeDuringWrite) await mark.mark()
      yield seed(2)
    })
    await mark.mark()
    await snapshot.write()
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')).seeding.map((s: PublicSeed) => s.mediaId), [seed(1).mediaId, seed(2).mediaId])
    assert.notEqual(await mark.token(), undefined, 'the change made while writing keeps the mark')

    changeDuringWrite = false
    await snapshot.write()
    assert.equal(await mark.token(), undefined, 'nothing changed during this write: the file is up to date')
  })

  test('at a start a write is due only when the file is marked stale, missing or damaged', async t => {
    const { file, mark, snapshot } = await setup(t, async function * () { yield seed(1) })
    await snapshot.start()
    assert.equal(snapshot.due, true, 'no file yet')
    await snapshot.write()
    await snapshot.stop()

    const fresh = new SeedingSnapshot({ file, mark, seeds: async function * () {}, publicSeeds: async () => 0, log: silentLogger() })
    await fresh.start()
    assert.equal(fresh.due, false, 'a whole file and no mark: nothing to write')
    await fresh.stop()

    await mark.mark()
    const marked = new SeedingSnapshot({ file, mark, seeds: async function * () {}, publicSeeds: async () => 0, log: silentLogger() })
    await marked.start()
    assert.equal(marked.due, true, 'marked stale')
    await marked.stop()
    assert.equal(await mark.token(), undefined)

    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).slice(0, -1))
    const damaged = new SeedingSnapshot({ file, mark, seeds: async function * () {}, publicSeeds: async () => 0, log: silentLogger() })
    await damaged.start()
    assert.equal(damaged.due, true, 'cut short')
    await damaged.stop()
    assert.equal(await fs.readFile(file, 'utf8'), '{"version":3,"seeding":[]}')
  })

  test('a stop gives up a write under way, and writes none when the last took longer than its budget: the mark stays for the next start', async t => {
    let slow = false
    const { file, mark, snapshot } = await setup(t, async function * () {
      for (let n = 1; n <= 20; n++) {
        if (slow) await new Promise(resolve => setTimeout(resolve, 10))
        yield seed(n)
      }
    })
    await snapshot.start()
    await snapshot.write()
    const written = await fs.readFile(file, 'utf8')

    slow = true
    await mark.mark()
    const writing = snapshot.write().catch(err => err as Error)
    await new Promise(resolve => setTimeout(resolve, 30))
    await snapshot.stop()
    assert.match(String(await writing), /stopping/, 'the write under way was given up')
    assert.equal(await fs.readFile(file, 'utf8'), written, 'the file as it was')
    assert.notEqual(await mark.token(), undefined, 'still marked stale')
    await assert.rejects(fs.access(`${file}.tmp`), 'no temp file left')

    // A write that took 200 ms, over a budget of 50: the stop leaves it to the next start.
    const budgeted = new SeedingSnapshot({ file, mark, seeds: async function * () { for (let n = 1; n <= 20; n++) { await new Promise(resolve => setTimeout(resolve, 10)); yield seed(n) } }, publicSeeds: async () => 20, log: silentLogger(), shutdownBudgetMs: 50 })
    await budgeted.start()
    await budgeted.write()
    await mark.mark()
    await budgeted.stop()
    assert.notEqual(await mark.token(), undefined, 'no write at this stop')

    // No write timed yet in this run (a stop right after a start): a million seeds to list, far
    // over what the budget writes, leave the file as it is (even a small one); one seed is written.
    const before = await fs.readFile(file, 'utf8')
    const fresh = (seeds: number): SeedingSnapshot => new SeedingSnapshot({ file, mark, seeds: async function * () { yield seed(1) }, publicSeeds: async () => seeds, log: silentLogger(), shutdownBudgetMs: 50 })
    const large = fresh(1_000_000)
    await large.start()
    await large.stop()
    assert.equal(await fs.readFile(file, 'utf8'), before, 'not written over at the stop')
    assert.notEqual(await mark.token(), undefined, 'left marked for the next start')
    const small = fresh(1)
    await small.start()
    await small.stop()
    assert.equal(await mark.token(), undefined, 'a small catalogue is written at the stop')
    assert.equal(JSON.parse(await fs.readFile(file, 'utf8')).seeding.length, 1)
  })
})
