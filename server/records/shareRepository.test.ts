import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import { BlobRepository } from '../catalog/blobRepository.ts'
import { DatabaseRecordRepository } from './databaseRecordRepository.ts'
import { sweepExpiredShares } from '../media/shares.ts'
import { ShareRepository } from './shareRepository.ts'

const ALICE = '02' + 'a'.repeat(64)
const CAROL = '02' + 'c'.repeat(64)
const BOB = '03' + 'b'.repeat(64)
const DAN = '03' + 'd'.repeat(64)
/** Times around now, past 2^32 ms: a 32-bit integer anywhere on the way would show. */
const T = 1_800_000_000_000

const mediaIdOf = (text: string): string => createHash('sha256').update(text).digest('hex')

/** Shares and records on a fresh database of this kind, with private records of `media` by their owners. */
async function setUp (kind: DatabaseKind, t: TestContext, held: Array<[string, string, 'public' | 'private']>): Promise<{ shares: ShareRepository, records: DatabaseRecordRepository }> {
  const { db, dialect } = await openTestDatabase(kind, t)
  const records = new DatabaseRecordRepository(db, dialect)
  const blobs = new BlobRepository(db)
  for (const [media, owner, accessLevel] of held) {
    const isPrivate = accessLevel === 'private'
    if (!await blobs.get(mediaIdOf(media))) {
      await blobs.insert({ mediaId: mediaIdOf(media), fileSize: 1000, pieceLength: 16384, info: new Uint8Array(1), name: media, mimeType: 'video/mp4', infoHash: mediaIdOf(media).slice(0, 40), publishedAt: 1, createdAt: '' })
    }
    await records.ensure({ mediaId: mediaIdOf(media), owner, accessLevel, name: `${media} of ${owner.slice(0, 3)}`, description: null, originalName: `${media}.bin`, mimeType: 'video/mp4', torrentSalt: isPrivate ? 's'.repeat(64) : null, privateInfoHash: isPrivate ? mediaIdOf(`${media} ${owner}`).slice(0, 40) : null, fileSize: 1000 })
  }
  return { shares: new ShareRepository(db), records }
}

describeEachDatabase('share repository', kind => {
  test('a share is made, its expiry changed (createdAt kept), revoked; an expired one reads as none and is made anew', async t => {
    const { shares } = await setUp(kind, t, [['clip', ALICE, 'private']])
    const clip = mediaIdOf('clip')
    const made = await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: T + 5000 }, T)
    assert.deepEqual(made, { share: { mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: T + 5000, createdAt: T } })
    assert.deepEqual(await shares.live(clip, ALICE, BOB, T + 4999), made.share)
    assert.equal(await shares.live(clip, ALICE, BOB, T + 5000), undefined, 'expired at its expiry')
    assert.equal(await shares.live(clip, ALICE, DAN, T), undefined, 'another key')

    const longer = await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: null }, T + 1000)
    assert.deepEqual(longer, { share: { ...made.share, expiresAt: null }, before: made.share })
    assert.deepEqual(await shares.live(clip, ALICE, BOB, T + 10 ** 9), longer.share, 'no expiry: until revoked')

    await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: T + 2000 }, T + 1500)
    assert.equal(await shares.liveCount(clip, ALICE, T + 1999), 1)
    assert.equal(await shares.liveCount(clip, ALICE, T + 2000), 0)
    const again = await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: null }, T + 3000)
    assert.deepEqual(again, { share: { ...made.share, expiresAt: null, createdAt: T + 3000 } }, 'shared anew after it expired: no live share before')

    assert.equal(await shares.remove(clip, ALICE, BOB), true)
    assert.equal(await shares.remove(clip, ALICE, BOB), false, 'revoked twice: nothing the second time')
    assert.equal(await shares.live(clip, ALICE, BOB, T), undefined)

    // Expired rows are forgotten, live ones kept: a file's rows do not pile up over its history.
    await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: T + 100 }, T)
    await shares.put({ mediaId: clip, owner: ALICE, recipient: DAN, expiresAt: null }, T)
    await shares.removeExpired(clip, ALICE, T + 100)
    assert.equal(await shares.remove(clip, ALICE, BOB), false, 'the expired row is gone')
    assert.equal(await shares.remove(clip, ALICE, DAN), true, 'the live one stayed')
  })

  test('the sweep forgets every expired share, in batches, of files never shared again; live ones stay', async t => {
    const { shares } = await setUp(kind, t, [['clip', ALICE, 'private'], ['song', CAROL, 'private']])
    const [clip, song] = [mediaIdOf('clip'), mediaIdOf('song')]
    // More than one batch of expired shares, by keys of their own.
    const recipients = Array.from({ length: 230 }, (_, i) => '03' + i.toString(16).padStart(64, '0'))
    for (const [i, recipient] of recipients.entries()) {
      await shares.put({ mediaId: i % 2 === 0 ? clip : song, owner: i % 2 === 0 ? ALICE : CAROL, recipient, expiresAt: T + i }, T - 1)
    }
    await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: null }, T)
    await shares.put({ mediaId: song, owner: CAROL, recipient: DAN, expiresAt: T + 10_000 }, T)
    assert.equal(await sweepExpiredShares(shares, T + 229), 230)
    assert.equal(await sweepExpiredShares(shares, T + 229), 0, 'nothing left to sweep')
    for (const recipient of recipients.slice(0, 3)) assert.equal(await shares.remove(clip, ALICE, recipient) || await shares.remove(song, CAROL, recipient), false, 'its row is gone')
    assert.ok(await shares.live(clip, ALICE, BOB, T + 229), 'a share without expiry stays')
    assert.ok(await shares.live(song, CAROL, DAN, T + 229), 'a share not yet expired stays')
  })

  test("readable: a live share lends the owner's private record (the oldest share of two owners'), not an expired one, nor a public record's", async t => {
    const { shares, records } = await setUp(kind, t, [['clip', ALICE, 'private'], ['clip', CAROL, 'private'], ['song', ALICE, 'public']])
    const clip = mediaIdOf('clip')
    assert.equal(await shares.readable(clip, BOB, T), undefined)
    await shares.put({ mediaId: clip, owner: CAROL, recipient: BOB, expiresAt: T + 100 }, T)
    await shares.put({ mediaId: clip, owner: ALICE, recipient: BOB, expiresAt: null }, T + 1)
    const read = await shares.readable(clip, BOB, T + 50)
    assert.deepEqual(read?.record, await records.get(clip, CAROL))
    assert.deepEqual(read?.share, { mediaId: clip, owner: CAROL, recipient: BOB, expiresAt: T + 100, createdAt: T })
    assert.equal((await shares.readable(clip, BOB, T + 100))?.record.owner, ALICE, "Carol's expired: Alice's")
    assert.equal(await shares.readable(clip, DAN, T), undefined)
    // A row left for a record that is public (shares go with such a change) lends nothing.
    await shares.put({ mediaId: mediaIdOf('song'), owner: ALICE, recipient: BOB, expiresAt: null }, T)
    assert.equal(await shares.readable(mediaIdOf('song'), BOB, T), undefined)
    assert.deepEqual((await shares.sharedWith(BOB, T + 50, 10)).map(s => [s.record.mediaId, s.record.owner]), [[clip, CAROL]], 'listed once, through the record the doors read')
    assert.deepEqual((await shares.sharedWith(BOB, T + 100, 10)).map(s => [s.record.mediaId, s.record.owner]), [[clip, ALICE]], "Carol's expired: through Alice's")

    await shares.removeAll(clip, ALICE)
    assert.equal(await shares.readable(clip, BOB, T + 100), undefined)
    assert.equal(await shares.live(clip, ALICE, BOB, T), undefined)
    assert.equal((await shares.readable(clip, BOB, T))?.record.owner, CAROL, "only Alice's went")
  })

  test("shared with me: live shares newest first, paged by cursor, ties broken by file; a file once, through its oldest share; an owner's shares per file", async t => {
    const media = ['a', 'b', 'c', 'd', 'e']
    const { shares } = await setUp(kind, t, [...media.map(m => [m, ALICE, 'private'] as [string, string, 'private']), ['a', CAROL, 'private'], ['e', CAROL, 'private']])
    // Two at one time, so the tie-breaks show.
    await shares.put({ mediaId: mediaIdOf('a'), owner: ALICE, recipient: BOB, expiresAt: null }, T)
    await shares.put({ mediaId: mediaIdOf('a'), owner: CAROL, recipient: BOB, expiresAt: null }, T + 1)
    await shares.put({ mediaId: mediaIdOf('b'), owner: ALICE, recipient: BOB, expiresAt: null }, T + 1)
    await shares.put({ mediaId: mediaIdOf('e'), owner: CAROL, recipient: BOB, expiresAt: null }, T + 1)
    await shares.put({ mediaId: mediaIdOf('e'), owner: ALICE, recipient: BOB, expiresAt: null }, T + 1)
    await shares.put({ mediaId: mediaIdOf('c'), owner: ALICE, recipient: BOB, expiresAt: T + 10 }, T + 2)
    await shares.put({ mediaId: mediaIdOf('d'), owner: ALICE, recipient: BOB, expiresAt: null }, T + 3)
    await shares.put({ mediaId: mediaIdOf('d'), owner: ALICE, recipient: DAN, expiresAt: null }, T + 3)
    // e: two owners' shares at one time; the doors read it through the smaller owner key, Alice's.
    assert.equal((await shares.readable(mediaIdOf('e'), BOB, T + 10))?.record.owner, ALICE)
    const expected = [
      ['d', ALICE], ...[['b', ALICE], ['e', ALICE]].sort((x, y) => mediaIdOf(y[0]!).localeCompare(mediaIdOf(x[0]!))), ['a', ALICE]
    ].map(([m, owner]) => `${mediaIdOf(m!)} ${owner}`)
    const seen: string[] = []
    let after
    for (let page = 0; page < 10; page++) {
      const rows = await shares.sharedWith(BOB, T + 10, 2, after)
      seen.push(...rows.map(r => `${r.record.mediaId} ${r.record.owner}`))
      const last = rows[rows.length - 1]?.share
      if (rows.length < 2 || !last) break
      after = { at: last.createdAt, mediaId: last.mediaId, owner: last.owner }
    }
    assert.deepEqual(seen, expected, "c's share expired at T + 10; Dan's is Dan's; Carol's of a and e are not the doors'")

    const byMedia = await shares.ofRecords(ALICE, media.map(mediaIdOf), T + 10)
    assert.deepEqual([...byMedia.keys()].sort(), ['a', 'b', 'd', 'e'].map(mediaIdOf).sort())
    assert.deepEqual(byMedia.get(mediaIdOf('d'))!.map(s => s.recipient), [BOB, DAN].sort())
    assert.deepEqual((await shares.ofRecords(ALICE, [], T)).size, 0)
  })
})
