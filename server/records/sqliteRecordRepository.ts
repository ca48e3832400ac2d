/** Records in SQLite (see database.ts for the schema). */
import type { Db } from './database.ts'
import type { MediaRecord, NewMediaRecord, OwnerKey, Page, RecordRepository, StorageUse } from './recordRepository.ts'

interface Row {
  id: number
  media_id: string
  owner: string
  access_level: 'public' | 'private'
  name: string | null
  description: string | null
  original_name: string
  mime_type: string
  torrent_salt: string | null
  private_info_hash: string | null
  pinned: number
  created_at: string
}

const toRecord = (r: Row): MediaRecord => ({
  id: r.id,
  mediaId: r.media_id,
  owner: r.owner,
  accessLevel: r.access_level,
  name: r.name,
  description: r.description,
  originalName: r.original_name,
  mimeType: r.mime_type,
  torrentSalt: r.torrent_salt,
  privateInfoHash: r.private_info_hash,
  pinned: r.pinned === 1,
  createdAt: r.created_at
})

export class SqliteRecordRepository implements RecordRepository {
  private readonly db: Db

  constructor (db: Db) {
    this.db = db
  }

  ensure (record: NewMediaRecord, admit?: (use: StorageUse) => void): { record: MediaRecord, created: boolean } {
    return this.db.transaction(() => {
      const had = this.get(record.mediaId, record.owner)
      if (had) return { record: had, created: false }
      admit?.(this.usage(record.owner))
      this.db.prepare(`INSERT INTO media_records (media_id, owner, access_level, name, description, original_name, mime_type, torrent_salt, private_info_hash, file_size, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(record.mediaId, record.owner, record.accessLevel, record.name, record.description,
        record.originalName, record.mimeType, record.torrentSalt, record.privateInfoHash, record.fileSize ?? null, new Date().toISOString())
      return { record: this.get(record.mediaId, record.owner)!, created: true }
    }).immediate()
  }

  usage (owner: OwnerKey): StorageUse {
    // One record per (media, owner): a file this key holds twice is not possible, so a sum counts it once.
    const row = this.db.prepare('SELECT coalesce(sum(file_size), 0) AS bytes, count(*) AS files FROM media_records WHERE owner = ?').get(owner) as StorageUse
    return { bytes: row.bytes, files: row.files }
  }

  withoutSize (): string[] {
    return (this.db.prepare('SELECT DISTINCT media_id FROM media_records WHERE file_size IS NULL').all() as Array<{ media_id: string }>).map(r => r.media_id)
  }

  setFileSize (mediaId: string, bytes: number): void {
    this.db.prepare('UPDATE media_records SET file_size = ? WHERE media_id = ?').run(bytes, mediaId)
  }

  get (mediaId: string, owner: OwnerKey): MediaRecord | undefined {
    const row = this.db.prepare('SELECT * FROM media_records WHERE media_id = ? AND owner = ?').get(mediaId, owner) as Row | undefined
    return row && toRecord(row)
  }

  setPublicTorrent (mediaId: string, infoHash: string): void {
    this.db.prepare('INSERT INTO public_torrents (media_id, info_hash) VALUES (?, ?) ON CONFLICT (media_id) DO UPDATE SET info_hash = excluded.info_hash').run(mediaId, infoHash)
  }

  clearPublicTorrent (mediaId: string): void {
    this.db.prepare('DELETE FROM public_torrents WHERE media_id = ?').run(mediaId)
  }

  byPublicInfoHash (infoHash: string): string | undefined {
    const row = this.db.prepare(`SELECT t.media_id FROM public_torrents t WHERE t.info_hash = ?
      AND EXISTS (SELECT 1 FROM media_records r WHERE r.media_id = t.media_id AND r.access_level = 'public')`).get(infoHash) as { media_id: string } | undefined
    return row?.media_id
  }

  publicMediaIds (): string[] {
    return (this.db.prepare("SELECT DISTINCT media_id FROM media_records WHERE access_level = 'public'").all() as Array<{ media_id: string }>).map(r => r.media_id)
  }

  publicWithoutTorrent (): string[] {
    return (this.db.prepare(`SELECT DISTINCT media_id FROM media_records WHERE access_level = 'public'
      AND media_id NOT IN (SELECT media_id FROM public_torrents)`).all() as Array<{ media_id: string }>).map(r => r.media_id)
  }

  byPrivateInfoHash (infoHash: string): MediaRecord | undefined {
    const row = this.db.prepare('SELECT * FROM media_records WHERE private_info_hash = ?').get(infoHash) as Row | undefined
    return row && toRecord(row)
  }

  listPrivate (): MediaRecord[] {
    return (this.db.prepare("SELECT * FROM media_records WHERE access_level = 'private' ORDER BY id").all() as Row[]).map(toRecord)
  }

  setPinned (mediaId: string, owner: OwnerKey, pinned: boolean): boolean {
    return this.db.prepare('UPDATE media_records SET pinned = ? WHERE media_id = ? AND owner = ?').run(pinned ? 1 : 0, mediaId, owner).changes === 1
  }

  pinnedCount (owner: OwnerKey): number {
    return (this.db.prepare('SELECT count(*) AS n FROM media_records WHERE owner = ? AND pinned = 1').get(owner) as { n: number }).n
  }

  hasPinnedPublic (mediaId: string): boolean {
    return this.db.prepare("SELECT 1 FROM media_records WHERE media_id = ? AND access_level = 'public' AND pinned = 1 LIMIT 1").get(mediaId) !== undefined
  }

  pinnedTorrents (): string[] {
    return (this.db.prepare(`SELECT private_info_hash AS h FROM media_records WHERE pinned = 1 AND access_level = 'private'
      UNION SELECT t.info_hash FROM media_records r JOIN public_torrents t ON t.media_id = r.media_id
        WHERE r.pinned = 1 AND r.access_level = 'public'`).all() as Array<{ h: string }>).map(r => r.h)
  }

  count (mediaId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM media_records WHERE media_id = ?').get(mediaId) as { n: number }).n
  }

  remove (mediaId: string, owner: OwnerKey): boolean {
    return this.db.prepare('DELETE FROM media_records WHERE media_id = ? AND owner = ?').run(mediaId, owner).changes === 1
  }

  listByOwner (owner: OwnerKey, page: Page): MediaRecord[] {
    return (this.db.prepare('SELECT * FROM media_records WHERE owner = ? AND id < ? ORDER BY id DESC LIMIT ?')
      .all(owner, page.after ?? Number.MAX_SAFE_INTEGER, page.limit) as Row[]).map(toRecord)
  }

  listPublic (page: Page): MediaRecord[] {
    return (this.db.prepare(`SELECT * FROM media_records WHERE id IN (
        SELECT min(id) FROM media_records WHERE access_level = 'public' GROUP BY media_id
      ) AND id < ? ORDER BY id DESC LIMIT ?`)
      .all(page.after ?? Number.MAX_SAFE_INTEGER, page.limit) as Row[]).map(toRecord)
  }

  hasPublic (mediaId: string): boolean {
    return this.db.prepare("SELECT 1 FROM media_records WHERE media_id = ? AND access_level = 'public' LIMIT 1").get(mediaId) !== undefined
  }
}
