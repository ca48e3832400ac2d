/** Records in SQLite (WAL), DATA_DIR/db.sqlite by default. */
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { MediaRecord, NewMediaRecord, RecordRepository } from './recordRepository.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS media_records (
  id           INTEGER PRIMARY KEY,
  media_id     TEXT NOT NULL,
  owner        TEXT NOT NULL,
  access_level TEXT NOT NULL CHECK (access_level IN ('public', 'private')),
  name         TEXT,
  description  TEXT,
  created_at   TEXT NOT NULL,
  UNIQUE (media_id, owner)
);
CREATE INDEX IF NOT EXISTS media_records_public ON media_records (media_id) WHERE access_level = 'public';
`

interface Row {
  id: number
  media_id: string
  owner: string
  access_level: 'public' | 'private'
  name: string | null
  description: string | null
  created_at: string
}

const toRecord = (r: Row): MediaRecord => ({
  id: r.id,
  mediaId: r.media_id,
  owner: r.owner,
  accessLevel: r.access_level,
  name: r.name,
  description: r.description,
  createdAt: r.created_at
})

export class SqliteRecordRepository implements RecordRepository {
  private readonly db: Database.Database

  /** `file` ':memory:' for tests. */
  constructor (file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true })
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
  }

  ensure (record: NewMediaRecord): { record: MediaRecord, created: boolean } {
    const insert = this.db.prepare(`INSERT INTO media_records (media_id, owner, access_level, name, description, created_at)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (media_id, owner) DO NOTHING`)
    const info = insert.run(record.mediaId, record.owner, record.accessLevel, record.name, record.description, new Date().toISOString())
    const row = this.db.prepare('SELECT * FROM media_records WHERE media_id = ? AND owner = ?').get(record.mediaId, record.owner) as Row
    return { record: toRecord(row), created: info.changes === 1 }
  }

  forMedia (mediaId: string): MediaRecord[] {
    return (this.db.prepare('SELECT * FROM media_records WHERE media_id = ? ORDER BY id').all(mediaId) as Row[]).map(toRecord)
  }

  hasPublic (mediaId: string): boolean {
    return this.db.prepare("SELECT 1 FROM media_records WHERE media_id = ? AND access_level = 'public' LIMIT 1").get(mediaId) !== undefined
  }

  close (): void {
    this.db.close()
  }
}
