import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import Database from 'better-sqlite3'
import { sql } from 'kysely'
import pg from 'pg'
import { describeEachDatabase, type DatabaseKind, type TestDatabase } from '../../test/helpers/postgres.ts'
import { SeedRepository } from '../catalog/seedRepository.ts'
import { addressOf, createMnemonic, identityFromMnemonic } from '../../shared/wallet.ts'
import { DatabaseRecordRepository } from '../records/databaseRecordRepository.ts'
import { DatabaseOipRecordRepository } from '../records/oipRecordRepository.ts'
import { parseRecordSearch, type RecordSearchParams } from '../records/recordSearch.ts'
import { openDatabase, type Dialect } from './database.ts'
import { LEGACY_SQLITE, migrationNames } from './migrations.ts'

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-db-'))
after(async () => { await fs.rm(dir, { recursive: true, force: true }) })

/** One statement on the database as it is, without openDatabase (so without migrating it); its rows. */
async function run (kind: DatabaseKind, options: TestDatabase['options'], statement: string): Promise<unknown[]> {
  if (kind.kind === 'sqlite') {
    const db = new Database(options.sqliteFile)
    try {
      const prepared = db.prepare(statement)
      return prepared.reader ? prepared.all() : (prepared.run(), [])
    } finally {
      db.close()
    }
  }
  const client = new pg.Client({ connectionString: options.url })
  await client.connect()
  try {
    return (await client.query(statement)).rows
  } finally {
    await client.end()
  }
}

/** Our tables, not kysely's bookkeeping (PostgreSQL keeps the migration tables it made before the failed migration). */
const TABLES: Record<Dialect, string> = {
  sqlite: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%'",
  postgres: "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'"
}

/** Our tables' columns, indexes and triggers, in order: what a migration changes. */
const SCHEMA: Record<Dialect, string> = {
  sqlite: `SELECT m.name AS t, c.name AS c FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' AND m.name NOT LIKE 'kysely_%'
    UNION ALL SELECT tbl_name AS t, name AS c FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name NOT LIKE 'kysely_%' ORDER BY t, c`,
  postgres: `SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
    UNION ALL SELECT tablename AS t, indexname AS c FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%' ORDER BY t, c`
}

/** Undoes 0011_record_search, leaving oip_records as 0010 did. */
const BEFORE_RECORD_SEARCH: Record<Dialect, string[]> = {
  sqlite: [
    ...['insert', 'delete', 'update'].map(t => `DROP TRIGGER oip_records_fts_${t}`),
    'DROP TABLE oip_records_fts',
    'DROP TABLE oip_record_tags',
    ...['public', 'owner'].flatMap(who => ['seq', 'date', 'name_key', 'size'].map(key => `DROP INDEX oip_records_${who}_${key}`)),
    'DROP INDEX oip_records_address',
    ...['source', 'owner_address', 'date', 'size', 'name_key'].map(c => `ALTER TABLE oip_records DROP COLUMN ${c}`),
    'CREATE INDEX oip_records_owner ON oip_records (owner)'
  ],
  postgres: [
    'DROP TABLE oip_record_tags',
    ...['search_vector', 'source', 'owner_address', 'date', 'size', 'name_key'].map(c => `ALTER TABLE oip_records DROP COLUMN ${c}`),
    'DROP INDEX oip_records_public_seq',
    'DROP INDEX oip_records_owner_seq',
    'CREATE INDEX oip_records_owner ON oip_records (owner)'
  ]
}

/**
 * What each migration since 0006 did, taken out again, so a test can make the catalogue an older
 * version left (undoMigrationsFrom). A new migration adds its entry here (a test below checks).
 */
const UNDO: Record<string, (dialect: Dialect) => string[]> = {
  '0006_seed_counts': () => ['DROP TABLE seed_counts'],
  '0007_blob_journal': () => ['DROP TABLE blob_journal'],
  '0008_record_tags': () => ['ALTER TABLE media_records DROP COLUMN tags'],
  '0009_media_shares': () => ['DROP TABLE media_shares'],
  '0010_media_shares_expiry': () => ['DROP INDEX media_shares_expires'],
  '0011_record_search': dialect => BEFORE_RECORD_SEARCH[dialect],
  '0012_record_thumbnails': () => ['DROP TABLE record_thumbnails'],
  '0013_arweave_publications': () => ['DROP TABLE arweave_publications'],
  '0016_cluster_nodes': () => ['DROP TABLE cluster_nodes'],
  '0017_upload_hash_state': () => ['hash_state', 'writer', 'writer_until'].map(c => `ALTER TABLE uploads DROP COLUMN ${c}`),
  '0018_gun_publications': () => ['DROP TABLE gun_publications'],
  '0019_oip_index_cursor': () => ['DROP TABLE oip_index_cursor'],
  '0020_oip_record_section': () => ['ALTER TABLE oip_records DROP COLUMN section']
}

/** Leaves a current catalogue as it was before migration `first`: every later one undone, newest first, and forgotten by kysely. */
async function undoMigrationsFrom (kind: DatabaseKind, options: TestDatabase['options'], first: string): Promise<void> {
  const later = migrationNames(kind.kind).filter(name => name >= first).reverse()
  for (const name of later) {
    const undo = UNDO[name]
    if (undo === undefined) throw new Error(`no undo for migration ${name}: add it to UNDO`)
    for (const statement of undo(kind.kind)) await run(kind, options, statement)
  }
  await run(kind, options, `DELETE FROM kysely_migration WHERE name >= '${first}'`)
}

const columns = async (file: string, table: string): Promise<string[]> => {
  const database = await openDatabase({ sqliteFile: file })
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(database.db)
    return rows.map(r => r.name).sort()
  } finally {
    await database.close()
  }
}

// PRAGMA user_version is SQLite's own, and only SQLite databases were made before kysely
// (PostgreSQL came with it), so these stay SQLite-only.
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

describeEachDatabase('opening the database', kind => {
  test('opening twice runs no migration twice, and a failed open says which migration failed', async () => {
    const { options } = await kind.newDatabase()
    await (await openDatabase(options)).close()
    await (await openDatabase(options)).close()
    const broken = (await kind.newDatabase()).options
    await run(kind, broken, 'CREATE TABLE media_records (x TEXT)') // a table in the way, no record of migrations
    await assert.rejects(openDatabase(broken), /database migration 0001_records failed/)
  })

  test('a migration that fails part-way leaves nothing of itself behind (each runs in one transaction)', async () => {
    const { options } = await kind.newDatabase()
    // 0001 creates media_records, auth_challenges, oip_records, then public_torrents: make the last one fail.
    await run(kind, options, 'CREATE TABLE public_torrents (x TEXT)')
    await assert.rejects(openDatabase(options), /0001_records failed/)
    assert.deepEqual(await run(kind, options, TABLES[kind.kind]), [{ name: 'public_torrents' }])
  })

  test('a catalogue made before the seed counts gets its seeds counted once, by kind', async () => {
    const { options } = await kind.newDatabase()
    await (await openDatabase(options)).close()
    // As 0005 left it: seeds, and no counts.
    await undoMigrationsFrom(kind, options, '0006')
    await run(kind, options, "INSERT INTO seeds (info_hash, media_id, kind, ranked_at) VALUES ('a', 'm1', 'public', 1), ('b', 'm2', 'public', 1), ('c', 'm2', 'private', 1)")
    const database = await openDatabase(options)
    try {
      const seeds = new SeedRepository(database.db, database.dialect)
      assert.deepEqual([await seeds.count('public'), await seeds.count('private'), await seeds.count()], [2, 1, 3])
    } finally {
      await database.close()
    }
  })

  test('a catalogue made before the blob journal compares every folder once at its next start; a new one has nothing to compare', async () => {
    const { options } = await kind.newDatabase()
    const mark = "SELECT key FROM catalog_meta WHERE key = 'reconcile_all'"
    await (await openDatabase(options)).close()
    assert.deepEqual(await run(kind, options, mark), [])
    // As 0006 left it, with a stored file.
    await undoMigrationsFrom(kind, options, '0007')
    await run(kind, options, `INSERT INTO blobs (media_id, file_size, piece_length, info, name, mime_type, info_hash, published_at, created_at) VALUES ('${'a'.repeat(64)}', 1, 16384, ${kind.kind === 'sqlite' ? "x'00'" : "'\\x00'"}, 'f', 'text/plain', '${'b'.repeat(40)}', 1, '2026-01-01T00:00:00.000Z')`)
    await (await openDatabase(options)).close()
    assert.deepEqual(await run(kind, options, mark), [{ key: 'reconcile_all' }])
  })

  test("a catalogue made before tags gives every record none; the records are otherwise as they were", async () => {
    const { options } = await kind.newDatabase()
    await (await openDatabase(options)).close()
    // As 0007 left it, with a record.
    await undoMigrationsFrom(kind, options, '0008')
    await run(kind, options, `INSERT INTO media_records (media_id, owner, access_level, name, original_name, mime_type, created_at) VALUES ('${'a'.repeat(64)}', 'alice', 'public', 'Sunset', 'sunset.mp4', 'video/mp4', '2026-01-01T00:00:00.000Z')`)
    const database = await openDatabase(options)
    try {
      const record = await new DatabaseRecordRepository(database.db, database.dialect).get('a'.repeat(64), 'alice')
      assert.deepEqual([record?.name, record?.originalName, record?.tags], ['Sunset', 'sunset.mp4', []])
    } finally {
      await database.close()
    }
  })

  test('a catalogue made before record search has its records searchable after: words, tags, creator address, date, size, name order and OIP section', async () => {
    const { options } = await kind.newDatabase()
    await (await openDatabase(options)).close()
    await undoMigrationsFrom(kind, options, '0011')
    const alice = await identityFromMnemonic(createMnemonic())
    const stored = [['Sunset.mp4', 'Over the sea', ['beach', 'evening'], 1700000000, 300, 'public', 'video/mp4'], ['forest walk', 'Into the woods', ['green'], 1600000000, 100, 'public', 'image/png'], ['Diary', 'sunset notes', ['beach'], 1650000000, 200, 'private', 'application/pdf']] as const
    for (const [i, [name, description, tags, date, size, access, contentType]] of stored.entries()) {
      const json = JSON.stringify({ basic: { name, description, date, tagItems: tags }, media: { size, contentType } }).replaceAll("'", "''")
      await run(kind, options, `INSERT INTO oip_records (record_id, media_id, owner, access_level, type, name, description, tags, record_json, signature, created_at)
        VALUES ('${String(i).repeat(64)}', '${'a'.repeat(64)}', '${alice.publicKey}', '${access}', 'media', '${name}', '${description}', '${JSON.stringify(tags)}', '${json}', 'sig', '2026-01-01T00:00:00.000Z')`)
    }
    const database = await openDatabase(options)
    try {
      const records = new DatabaseOipRecordRepository(database.db, database.dialect)
      const names = async (params: RecordSearchParams, caller?: string): Promise<string[]> => (await records.list({ ...parseRecordSearch(params, 10), caller, limit: 10 })).map(r => r.name)
      assert.deepEqual(await names({ search: 'sun' }), ['Sunset.mp4'], 'name words, public only')
      assert.deepEqual(await names({ search: 'sun' }, alice.publicKey), ['Diary', 'Sunset.mp4'], 'and description words, to the owner')
      assert.deepEqual(await names({ search: 'mp4 sea' }), ['Sunset.mp4'])
      assert.deepEqual(await names({ search: 'evening' }), ['Sunset.mp4'], 'tag words')
      assert.deepEqual(await names({ tags: 'beach' }, alice.publicKey), ['Diary', 'Sunset.mp4'])
      assert.deepEqual(await names({ creator: addressOf(alice.publicKey), sortBy: 'date:asc' }), ['forest walk', 'Sunset.mp4'])
      assert.deepEqual(await names({ sortBy: 'size:asc' }, alice.publicKey), ['forest walk', 'Diary', 'Sunset.mp4'])
      assert.deepEqual(await names({ sortBy: 'name:asc' }, alice.publicKey), ['Diary', 'forest walk', 'Sunset.mp4'], 'A–Z either case together')
      assert.deepEqual(await names({ source: 'local' }), ['forest walk', 'Sunset.mp4'], 'every record made before is local')
      assert.deepEqual(await names({ recordType: 'video' }), ['Sunset.mp4'], 'the OIP section by the content type (0020)')
      assert.deepEqual(await names({ recordType: 'image' }), ['forest walk'])
      assert.deepEqual(await names({ recordType: 'text' }, alice.publicKey), ['Diary'])
    } finally {
      await database.close()
    }
  })

  test('every migration since 0006 has its undo here, and a catalogue undone to 0005 migrates back to the same schema', async () => {
    const { options } = await kind.newDatabase()
    await (await openDatabase(options)).close()
    const schema = async (): Promise<unknown[]> => await run(kind, options, SCHEMA[kind.kind])
    const current = await schema()
    await undoMigrationsFrom(kind, options, '0006')
    assert.notDeepEqual(await schema(), current, 'the undo took tables out')
    await (await openDatabase(options)).close()
    assert.deepEqual(await schema(), current, 'the same tables, columns, indexes and triggers')
  })

  // Several servers may share one PostgreSQL; a SQLite file belongs to one server's DATA_DIR.
  test('servers starting at once on one database migrate it once', { skip: kind.kind === 'sqlite' && 'one server process owns a SQLite file' }, async () => {
    const { options } = await kind.newDatabase()
    const opened = await Promise.all(Array.from({ length: 3 }, async () => await openDatabase(options)))
    await Promise.all(opened.map(async d => { await d.close() }))
    assert.deepEqual(await run(kind, options, 'SELECT name FROM kysely_migration ORDER BY name'), migrationNames(kind.kind).map(name => ({ name })), 'each migration ran once')
  })
})

// These need no database of either kind.
test('SQLite commits are on disk when they return (WAL, synchronous FULL)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-db-'))
  const database = await openDatabase({ sqliteFile: path.join(dir, 'db.sqlite') })
  try {
    assert.deepEqual((await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(database.db)).rows, [{ journal_mode: 'wal' }])
    assert.deepEqual((await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(database.db)).rows, [{ synchronous: 2 }])
  } finally {
    await database.close()
    await fs.rm(dir, { recursive: true, force: true })
  }
})

test('DATABASE_URL must be a postgres URL', async () => {
  await assert.rejects(openDatabase({ url: 'mysql://u:secret@h/db', sqliteFile: ':memory:' }), (err: Error) => /postgres/.test(err.message) && !err.message.includes('secret'))
})

test('a DATABASE_URL nobody answers is refused at open with the reason and what to check, without the password', async () => {
  const port = await closedPort()
  await assert.rejects(openDatabase({ url: `postgres://u:secret@127.0.0.1:${port}/db`, sqliteFile: ':memory:' }), (err: Error) => {
    assert.match(err.message, new RegExp(`^cannot connect to the PostgreSQL database of DATABASE_URL: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\. Check `))
    assert.doesNotMatch(err.message, /secret|migration/)
    return true
  })
})

/** A loopback port nothing listens on: one the system just gave out and we closed. */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}
