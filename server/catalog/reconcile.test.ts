import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { describeEachDatabase } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import { silentLogger } from '../logger.ts'
import { KeyedMutex } from '../media/keyedMutex.ts'
import { FsBlobStore } from '../storage/fsBlobStore.ts'
import { BlobJournal } from './blobJournal.ts'
import { BlobRepository } from './blobRepository.ts'
import { reconcileNoted } from './reconcile.ts'

describeEachDatabase('reconciling the journal', kind => {
  // A publish fsyncs the whole file before its rename: that can outlast the grace.
  test('a note of a publish under way here is left alone however old it is; once the publish ended, its folder is settled and the note goes', async t => {
    const { db } = await openTestDatabase(kind, t)
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-reconcile-'))
    t.after(async () => { await fs.rm(dir, { recursive: true, force: true }) })
    const store = new FsBlobStore(dir)
    await store.init()
    const journal = new BlobJournal(db)
    const old = await journal.note('a'.repeat(64), Date.now() - 60_000)
    const young = await journal.note('b'.repeat(64))
    let underWay = true
    const deps = { store, blobs: new BlobRepository(db), journal, perMedia: new KeyedMutex(), publishing: (id: number) => underWay && id === old, log: silentLogger() }

    await reconcileNoted(deps, 10_000)
    assert.deepEqual((await journal.page(10)).map(n => n.id), [old, young], 'neither the publish under way nor a note within its grace is taken out')
    underWay = false
    await reconcileNoted(deps, 10_000)
    assert.deepEqual((await journal.page(10)).map(n => n.id), [young], 'the ended publish (no folder, no row: nothing to do) is settled')
  })
})
