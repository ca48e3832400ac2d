/**
 * The access policy's swarm admissions against a real database, at the moment a share is
 * revoked: the revoke commits, then ends the recipient's admissions, so an announce that read
 * the share while it was live must not admit a peer after that end; an announce to another
 * file's swarm is not held up by it.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { Capabilities } from '../auth/capabilities.ts'
import { BlobRepository } from '../catalog/blobRepository.ts'
import { migrate } from '../db/migrations.ts'
import type { Schema } from '../db/schema.ts'
import { DatabaseRecordRepository } from '../records/databaseRecordRepository.ts'
import { ShareRepository } from '../records/shareRepository.ts'
import { AccessPolicy } from './accessPolicy.ts'

const ALICE = '02' + 'a'.repeat(64)
const BOB = '03' + 'b'.repeat(64)
const MEDIA = '1'.repeat(64)
const INFO_HASH = '2'.repeat(40)
const PEER = '3'.repeat(40)
const MEDIA_2 = '4'.repeat(64)
const INFO_HASH_2 = '5'.repeat(40)
const HERE = '192.0.2.1'

/** A policy over a fresh database where ALICE shares two private files with BOB; `afterShareRead` runs once, right after an announce reads a share. */
async function sharedFiles (t: TestContext): Promise<{ policy: AccessPolicy, sqlite: Database.Database, capabilities: Capabilities, shareReads: () => number, afterShareRead: (fn: () => void) => void }> {
  const sqlite = new Database(':memory:')
  let afterShareRead: (() => void) | undefined
  let shareReads = 0
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: event => {
      if (event.level !== 'query' || !/from "media_shares"/.test(event.query.sql)) return
      shareReads++
      const run = afterShareRead
      afterShareRead = undefined
      run?.()
    }
  })
  t.after(async () => { await db.destroy() })
  await migrate(db, 'sqlite')
  const records = new DatabaseRecordRepository(db, 'sqlite')
  const shares = new ShareRepository(db)
  for (const [mediaId, infoHash] of [[MEDIA, INFO_HASH], [MEDIA_2, INFO_HASH_2]] as const) {
    await records.ensure({ mediaId, owner: ALICE, accessLevel: 'private', name: null, description: null, originalName: 'a.bin', mimeType: 'text/plain', torrentSalt: 's', privateInfoHash: infoHash, fileSize: 1 })
    await shares.put({ mediaId, owner: ALICE, recipient: BOB, expiresAt: null }, Date.now())
  }
  const capabilities = new Capabilities('http://x', new TextEncoder().encode('a test secret of at least thirty-two bytes'), 3600)
  const policy = new AccessPolicy({
    records,
    blobs: new BlobRepository(db),
    shares,
    capabilities,
    adminKeys: [],
    isSeederPeer: () => false,
    peersLeft: async () => {},
    onError: err => { throw err }
  })
  return { policy, sqlite, capabilities, shareReads: () => shareReads, afterShareRead: fn => { afterShareRead = fn } }
}

test("a revoke that lands while an announce reads the share ends that announce's admission too", async t => {
  const { policy, sqlite, capabilities, afterShareRead } = await sharedFiles(t)
  const token = await capabilities.issue('tracker', { sub: BOB, infoHash: INFO_HASH })
  let revoked = false
  // The revoke as Shares.revoke does it: the row goes (committed), then the admissions end.
  afterShareRead(() => {
    sqlite.prepare('DELETE FROM media_shares WHERE media_id = ?').run(MEDIA)
    void policy.shareRevoked(INFO_HASH, BOB)
    revoked = true
  })
  const admitted = await policy.admitAnnounce({ infoHash: INFO_HASH, token, peerId: PEER, event: 'started', fromSeeder: false, address: HERE })
  assert.equal(revoked, true, 'the revoke landed after the share was read')
  assert.equal(policy.admitsPeer(INFO_HASH, PEER, HERE), false)
  assert.equal(admitted, false, 'read again: no share')
})

test("a revoke of another file while an announce reads its share does not make it read again", async t => {
  const { policy, sqlite, capabilities, shareReads, afterShareRead } = await sharedFiles(t)
  const token = await capabilities.issue('tracker', { sub: BOB, infoHash: INFO_HASH_2 })
  afterShareRead(() => {
    sqlite.prepare('DELETE FROM media_shares WHERE media_id = ?').run(MEDIA)
    void policy.shareRevoked(INFO_HASH, BOB)
  })
  const before = shareReads()
  assert.equal(await policy.admitAnnounce({ infoHash: INFO_HASH_2, token, peerId: PEER, event: 'started', fromSeeder: false, address: HERE }), true)
  assert.equal(shareReads() - before, 1, 'its share was read once')
  assert.equal(policy.admitsPeer(INFO_HASH_2, PEER, HERE), true)
})
