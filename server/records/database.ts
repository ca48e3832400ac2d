/**
 * The embedded database (SQLite, WAL) and its schema. Each migration runs once, in order,
 * tracked by SQLite's user_version.
 */
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { OIP_RECORDS_MIGRATION } from './oipRecordRepository.ts'

export type Db = Database.Database

const MIGRATIONS = [
  `CREATE TABLE media_records (
     id           INTEGER PRIMARY KEY,
     media_id     TEXT NOT NULL,
     owner        TEXT NOT NULL,
     access_level TEXT NOT NULL CHECK (access_level IN ('public', 'private')),
     name         TEXT,
     description  TEXT,
     created_at   TEXT NOT NULL,
     UNIQUE (media_id, owner)
   );
   CREATE INDEX media_records_public ON media_records (media_id) WHERE access_level = 'public';
   CREATE TABLE auth_challenges (
     nonce      TEXT PRIMARY KEY,
     message    TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // Private records get their own torrent: a secret salt in the info dict, so its infoHash.
  `ALTER TABLE media_records ADD COLUMN torrent_salt TEXT;
   ALTER TABLE media_records ADD COLUMN private_info_hash TEXT;
   CREATE UNIQUE INDEX media_records_private_info_hash ON media_records (private_info_hash) WHERE private_info_hash IS NOT NULL;`,
  // Each record keeps the name and type its owner gave, so one owner never sees another's.
  `ALTER TABLE media_records ADD COLUMN original_name TEXT NOT NULL DEFAULT 'file';
   ALTER TABLE media_records ADD COLUMN mime_type TEXT NOT NULL DEFAULT 'application/octet-stream';`,
  // OIP records signed by their owners (oipRecordRepository.ts).
  OIP_RECORDS_MIGRATION,
  // The public torrent of each public file, so the tracker knows it whether or not it is seeded.
  `CREATE TABLE public_torrents (
     media_id  TEXT PRIMARY KEY,
     info_hash TEXT NOT NULL UNIQUE
   );`,
  // Owners pin files to keep their torrents active in the seeder whatever else is wanted.
  `ALTER TABLE media_records ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX media_records_pinned ON media_records (media_id) WHERE pinned = 1;`,
  // Quotas: what each key stores (file sizes of older records are filled in at start).
  `ALTER TABLE media_records ADD COLUMN file_size INTEGER;
   CREATE INDEX media_records_owner ON media_records (owner);`
]

/** `file` ':memory:' for tests. */
export function openDatabase (file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  const version = db.pragma('user_version', { simple: true }) as number
  db.transaction(() => {
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!)
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  })()
  return db
}
