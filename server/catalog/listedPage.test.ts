import assert from 'node:assert/strict'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { CompiledQuery, Kysely, SqliteDialect } from 'kysely'
import { migrate } from '../db/migrations.ts'
import type { Schema } from '../db/schema.ts'
import { BlobRepository } from './blobRepository.ts'

const id = (n: number): string => n.toString(16).padStart(64, '0')

test('a page of the public listing after a cursor seeks the listing index: no scan and sort of every older file', async () => {
  const queries: Array<{ sql: string, parameters: readonly unknown[] }> = []
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: new Database(':memory:') }),
    log: event => { if (event.level === 'query') queries.push(event.query) }
  })
  await migrate(db, 'sqlite')
  const blobs = new BlobRepository(db)
  // Five files, two listed at the same time (the mediaId breaks the tie).
  for (const [n, listedAt] of [[1, 100], [2, 200], [3, 200], [4, 300], [5, 400]] as const) {
    await blobs.insert({ mediaId: id(n), fileSize: 1, pieceLength: 16384, info: new Uint8Array(1), name: `f${n}`, mimeType: 'text/plain', infoHash: id(n).slice(24), publishedAt: listedAt, createdAt: '' })
    await blobs.setListed(id(n), listedAt)
  }
  queries.length = 0
  const page = await blobs.listed(2, { listedAt: 200, mediaId: id(3) })
  assert.deepEqual(page.map(b => b.name), ['f2', 'f1'], 'the files after the cursor, newest first')

  const [query] = queries
  assert.ok(query)
  const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]))
  const detail = rows.map(r => r.detail).join('; ')
  assert.match(detail, /USING INDEX blobs_listed/)
  assert.doesNotMatch(detail, /TEMP B-TREE|MULTI-INDEX OR/, `a page costs the same at any depth and catalogue size: ${detail}`)
  await db.destroy()
})
