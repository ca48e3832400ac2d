/**
 * The one database: SQLite in DATA_DIR (the embedded default) or PostgreSQL when DATABASE_URL
 * is set, both through kysely, so every query is written once. Opening it brings the schema up
 * to date (migrations.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, sql, type Transaction } from 'kysely'
import pg from 'pg'
import { migrate } from './migrations.ts'
import type { Schema } from './schema.ts'

export type Dialect = 'sqlite' | 'postgres'

/** The database, or a transaction on it: repositories take either. */
export type Db = Kysely<Schema>
export type Tx = Transaction<Schema>

export interface Database {
  db: Db
  dialect: Dialect
  /** This start created it: nothing of ours was in it before. */
  fresh: boolean
  /** Runs `fn` as one transaction: all of it is written, or none. */
  transaction: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>
  /** Answers a trivial query (readiness). */
  ping: () => Promise<void>
  close: () => Promise<void>
}

export interface DatabaseOptions {
  /** postgres://… ; undefined: SQLite in `sqliteFile`. */
  url?: string
  /** A file path, or ':memory:' (tests). */
  sqliteFile: string
  /** Connections to PostgreSQL (DATABASE_POOL_SIZE). */
  poolSize?: number
  /**
   * A PostgreSQL connection that breaks (the database restarted or went away): told here.
   * The next query opens a new one, or fails and says so. Without a listener, pg's pool would
   * throw the error out of the process.
   */
  onConnectionError?: (err: Error) => void
}

export function isPostgresUrl (url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url)
}

/** int8 (counts, sums, bigint columns) as a JS number: file sizes and times stay below 2^53. */
const pgTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => oid === pg.types.builtins.INT8
    ? (v: string) => Number(v)
    : pg.types.getTypeParser(oid, format)
}

/**
 * SQLite runs schema changes inside transactions, but kysely's adapter says it cannot, so its
 * migrator would leave half a migration behind after a crash. Said so, each migration is one
 * transaction with its bookkeeping, as on PostgreSQL.
 */
class TransactionalDdlSqliteDialect extends SqliteDialect {
  override createAdapter (): SqliteAdapter {
    return new class extends SqliteAdapter {
      override get supportsTransactionalDdl (): boolean { return true }
    }()
  }
}

/** Fails with PostgreSQL's reason (never the URL: it may hold a password) when nobody answers or it refuses us. */
async function reachable (db: Db): Promise<void> {
  try {
    await sql`SELECT 1`.execute(db)
  } catch (err) {
    throw new Error(`cannot connect to the PostgreSQL database of DATABASE_URL: ${(err as Error).message}. Check that the server runs at that host and port, the database exists and the user and password are right.`)
  }
}

export async function openDatabase (opts: DatabaseOptions): Promise<Database> {
  let db: Db
  let dialect: Dialect
  if (opts.url !== undefined) {
    if (!isPostgresUrl(opts.url)) throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite database)')
    dialect = 'postgres'
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types: pgTypes })
    // Every connection reports its own break, idle or in use: pg-pool's listener is removed while
    // a connection is checked out and kysely adds none, so one breaking mid-query would throw
    // out of the process (the query itself fails). The pool re-emits an idle one's error too:
    // it was reported by the connection already.
    pool.on('connect', client => client.on('error', err => opts.onConnectionError?.(err)))
    pool.on('error', () => {})
    db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  } else {
    dialect = 'sqlite'
    if (opts.sqliteFile !== ':memory:') fs.mkdirSync(path.dirname(opts.sqliteFile), { recursive: true })
    const file = new Database(opts.sqliteFile)
    file.pragma('journal_mode = WAL')
    // FULL: a commit is on disk when it returns, so an answered upload survives a power loss as
    // its bytes do (NORMAL may lose the last commits, leaving seeder.json ahead of the database).
    file.pragma('synchronous = FULL')
    file.pragma('foreign_keys = ON')
    // kysely's SQLite driver runs one query at a time on this one connection, transactions included.
    db = new Kysely<Schema>({ dialect: new TransactionalDdlSqliteDialect({ database: file }) })
  }
  let fresh: boolean
  try {
    if (dialect === 'postgres') await reachable(db)
    fresh = (await migrate(db, dialect)).fresh
  } catch (err) {
    await db.destroy()
    throw err
  }
  return {
    db,
    dialect,
    fresh,
    transaction: async fn => await db.transaction().execute(fn),
    ping: async () => { await sql`SELECT 1`.execute(db) },
    close: async () => { await db.destroy() }
  }
}
