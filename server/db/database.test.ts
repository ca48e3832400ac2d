import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import Database from 'better-sqlite3'
import { sql } from 'kysely'
import { openDatabase } from './database.ts'
import { LEGACY_SQLITE } from './migrations.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-db-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

const columns = async (file: string, table: string): Promise<string[]> => {
  const database = await openDatabase({ sqliteFile: file })
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(database.db)
    return rows.map(r => r.name).sort()
  } finally {
    await database.close()
  }
}

for (const version of [1, 4, LEGACY_SQLITE.length]) {
  test(`a database from before kysely (SQLite user_version ${version}) keeps its records and gets the current schema`, async () => {
    const file = path.join(dir, `legacy-${version}.sqlite`)
    const legacy = new Database(file)
    for (const step of LEGACY_SQLITE.slice(0, version)) legacy.exec(step)
    legacy.pragma(`user_version = ${version}`)
    legacy.prepare("INSERT INTO media_records (media_id, owner, access_level, name, created_at) VALUES ('m', 'k', 'public', 'kept', '2026-01-01T00:00:00.000Z')").run()
    legacy.close()

    const database = await openDatabase({ sqliteFile: file })
    try {
      const row = await database.db.selectFrom('media_records').selectAll().executeTakeFirstOrThrow()
      assert.equal(row.name, 'kept')
      assert.equal(row.pinned, 0, 'columns added by later steps have their defaults')
    } finally {
      await database.close()
    }
    for (const table of ['media_records', 'oip_records', 'auth_challenges', 'public_torrents']) {
      assert.deepEqual(await columns(file, table), await columns(path.join(dir, `fresh-${version}.sqlite`), table), table)
    }
  })
}

test('opening twice runs no migration twice, and a failed open says which migration failed', async () => {
  const file = path.join(dir, 'twice.sqlite')
  await (await openDatabase({ sqliteFile: file })).close()
  await (await openDatabase({ sqliteFile: file })).close()
  const broken = path.join(dir, 'broken.sqlite')
  const db = new Database(broken)
  db.exec('CREATE TABLE media_records (x TEXT)') // a table in the way, no user_version
  db.close()
  await assert.rejects(openDatabase({ sqliteFile: broken }), /database migration 0001_records failed/)
})

test('DATABASE_URL must be a postgres URL', async () => {
  await assert.rejects(openDatabase({ url: 'mysql://u:secret@h/db', sqliteFile: ':memory:' }), (err: Error) => /postgres/.test(err.message) && !err.message.includes('secret'))
})

test('a migration that fails part-way leaves nothing of itself behind (each runs in one transaction)', async () => {
  const file = path.join(dir, 'half.sqlite')
  const db = new Database(file)
  // 0001 creates media_records, auth_challenges, oip_records, then public_torrents: make the last one fail.
  db.exec('CREATE TABLE public_torrents (x TEXT)')
  db.close()
  await assert.rejects(openDatabase({ sqliteFile: file }), /0001_records failed/)
  const after = new Database(file)
  const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%'").all() as Array<{ name: string }>
  after.close()
  assert.deepEqual(tables.map(t => t.name), ['public_torrents'])
})
