/**
 * The access policy's swarm admissions against a real database, at the moment a share is
 * revoked: the revoke commits, then ends the recipient's admissions, so an announce that read
 * the share while it was live must not admit a peer after that end.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
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

test("a revoke that lands while an announce reads the share ends that announce's admission too", async t => {
  const sqlite = new Database(':memory:')
  /** Runs once, right after the announce's read of the share and before the policy goes on. */
  let afterShareRead: (() => void) | undefined
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: event => {
      if (event.level !== 'query' || !/from "media_shares"/.test(event.query.sql)) return
      const run = afterShareRead
      afterShareRead = undefined
      run?.()
    }
  })
  t.after(async () => { await db.destroy() })
  await migrate(db, 'sqlite')
  const records = new DatabaseRecordRepository(db, 'sqlite')
  await records.ensure({ mediaId: MEDIA, owner: ALICE, accessLevel: 'private', name: null, description: null, originalName: 'a.bin', mimeType: 'text/plain', torrentSalt: 's', privateInfoHash: INFO_HASH, fileSize: 1 })
  const shares = new ShareRepository(db)
  await shares.put({ mediaId: MEDIA, owner: ALICE, recipient: BOB, expiresAt: null }, Date.now())
  const capabilities = new Capabilities('http://x', new TextEncoder().encode('a test secret of at least thirty-two bytes'), 3600)
  const policy = new AccessPolicy({
    records,
    blobs: new BlobRepository(db),
    shares,
    capabilities,
    adminKeys: [],
    seederPeerId: () => undefined,
    peersLeft: async () => {},
    onError: err => { throw err }
  })
  const token = await capabilities.issue('tracker', { sub: BOB, infoHash: INFO_HASH })

  // The revoke as Shares.revoke does it: the row goes (committed), then the admissions end.
  afterShareRead = () => {
    sqlite.prepare('DELETE FROM media_shares').run()
    void policy.shareRevoked(INFO_HASH, BOB)
  }
  const admitted = await policy.admitAnnounce({ infoHash: INFO_HASH, token, peerId: PEER, event: 'started', fromSeeder: false })
  assert.equal(afterShareRead, undefined, 'the revoke landed after the share was read')
  assert.equal(policy.admitsPeer(INFO_HASH, PEER), false)
  assert.equal(admitted, false, 'read again: no share')
})
