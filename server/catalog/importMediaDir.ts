/**
 * The first start on a MEDIA_DIR the database does not describe yet: a folder layout from the
 * seed (folders and seeder.json, no database), or from this server before the catalogue held
 * every fact (folders with manifest.json and torrent, records in SQLite). Each folder gets its
 * row (size and face from its torrent, or from its bytes when the torrent is lost), public files
 * their listing and seeding state, private records theirs. It runs once, before serving, and
 * starts over if it is interrupted (every step is idempotent); later starts read nothing here.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import bencode from 'bencode'
import type { MediaManifest } from '../../shared/media.ts'
import { infoDict, infoHashOf } from '../../shared/torrent.ts'
import type { Database } from '../db/database.ts'
import { IMPORT_PENDING } from '../db/migrations.ts'
import type { Logger } from '../logger.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { hashPieces } from '../upload/contentHasher.ts'
import { sha1 } from '../upload/nodeHashers.ts'
import type { NewBlobRow } from './blobRepository.ts'
import { catalogRepositories } from './catalogRepositories.ts'
import { CatalogMeta } from './catalogMeta.ts'

export interface ImportOptions {
  database: Database
  store: BlobStore
  mediaDir: string
  /** The database was created by this start: a MEDIA_DIR with folders is the seed's, whose files were all public. */
  freshDatabase: boolean
  log: Logger
}

const BATCH = 500

export async function importMediaDir ({ database, store, mediaDir, freshDatabase, log }: ImportOptions): Promise<void> {
  const { db, dialect } = database
  if (!await new CatalogMeta(db).has(IMPORT_PENDING)) return
  const started = performance.now()
  const { wanted, seeded } = await readSeederJson(path.join(mediaDir, 'seeder.json'))
  // Without a database, the files seeder.json lists are the ones the seed served publicly. Only
  // those become public, anonymously held: seeder.json never listed a private file, so a
  // database lost beside a MEDIA_DIR of private files exposes none of them.
  const anonymous = freshDatabase && await db.selectFrom('media_records').select('id').limit(1).executeTakeFirst() === undefined
  let folders = 0
  let batch: string[] = []
  const flush = async (): Promise<void> => {
    const rows: NewBlobRow[] = []
    for (const mediaId of batch) {
      const row = await folderRow(store, mediaId).catch(err => { log.warn({ mediaId, err: (err as Error).message }, 'skipping a media folder that cannot be read'); return undefined })
      if (row) rows.push(row)
    }
    await database.transaction(async tx => {
      const { blobs, records } = catalogRepositories(tx, dialect)
      for (const row of rows) {
        await blobs.insert(row)
        if (anonymous && seeded.has(row.mediaId)) await records.ensure({ mediaId: row.mediaId, owner: '', accessLevel: 'public', name: null, description: null, originalName: row.name, mimeType: row.mimeType, torrentSalt: null, privateInfoHash: null, fileSize: row.fileSize })
      }
    })
    folders += batch.length
    if (folders % 10_000 < BATCH) log.info({ folders }, 'importing MEDIA_DIR into the catalogue')
    batch = []
  }
  for await (const mediaId of store.list()) {
    batch.push(mediaId)
    if (batch.length >= BATCH) await flush()
  }
  await flush()

  await database.transaction(async tx => {
    const { blobs, seeds } = catalogRepositories(tx, dialect)
    // Public files: listed since their first public record, their face torrent seeded.
    const publicFiles = await tx.selectFrom('media_records').select(eb => ['media_id', eb.fn.min('created_at').as('since'), eb.fn.max('pinned').as('pinned')])
      .where('access_level', '=', 'public').groupBy('media_id').execute()
    for (const f of publicFiles) {
      const blob = await blobs.get(f.media_id)
      if (!blob) continue
      const since = Date.parse(String(f.since)) || Date.now()
      await blobs.setListed(f.media_id, since)
      await seeds.add({ infoHash: blob.infoHash, mediaId: f.media_id, kind: 'public', pinned: Number(f.pinned) === 1, at: since, ...(wanted.has(blob.infoHash) ? { wantedAt: wanted.get(blob.infoHash)! } : {}) })
    }
    const privateRecords = await tx.selectFrom('media_records').select(['media_id', 'private_info_hash', 'pinned', 'created_at'])
      .where('access_level', '=', 'private').where('private_info_hash', 'is not', null).execute()
    for (const r of privateRecords) {
      if (!await blobs.get(r.media_id)) continue
      await seeds.add({ infoHash: r.private_info_hash!, mediaId: r.media_id, kind: 'private', pinned: r.pinned === 1, at: Date.parse(r.created_at) || Date.now() })
    }
    // Records made before quotas: the size of their file, so what each key stores adds up.
    await tx.updateTable('media_records').set(eb => ({ file_size: eb.selectFrom('blobs').select('blobs.file_size').whereRef('blobs.media_id', '=', 'media_records.media_id') }))
      .where('file_size', 'is', null).execute()
    await tx.schema.dropTable('public_torrents').ifExists().execute()
    await new CatalogMeta(tx).clear(IMPORT_PENDING)
  })
  if (folders > 0) log.info({ folders, ms: Math.round(performance.now() - started) }, 'imported MEDIA_DIR into the catalogue (once)')
}

/** A folder's row: its face from manifest.json and torrent, or from the bytes when those are lost or damaged. */
async function folderRow (store: BlobStore, mediaId: string): Promise<NewBlobRow | undefined> {
  const stat = await store.stat(mediaId)
  if (!stat) return undefined
  const manifest = await store.readManifest(mediaId).catch(() => undefined as MediaManifest | undefined)
  let info = await store.readTorrent(mediaId).then(t => (bencode.decode(t) as { info?: Record<string, unknown> }).info, () => undefined)
  if (!info || info.length !== stat.size || !(info.pieces instanceof Uint8Array) || !(info.name instanceof Uint8Array)) {
    const pieces = await hashPieces(await store.read(mediaId), stat.size)
    info = infoDict({ name: manifest?.originalName ?? mediaId, length: stat.size, ...pieces })
  }
  const name = typeof info.name === 'string' ? info.name : new TextDecoder().decode(info.name as Uint8Array)
  return {
    mediaId,
    fileSize: stat.size,
    pieceLength: info['piece length'] as number,
    info: bencode.encode(info),
    name,
    mimeType: manifest?.mimeType ?? 'application/octet-stream',
    infoHash: infoHashOf(info, sha1),
    publishedAt: await store.publishedAt(mediaId) ?? Date.now(),
    createdAt: manifest?.createdAt ?? new Date().toISOString()
  }
}

/** From the seed's or an earlier version's seeder.json: the files it seeded, and when each torrent was last wanted (version 2). */
async function readSeederJson (file: string): Promise<{ seeded: Set<string>, wanted: Map<string, number> }> {
  try {
    const state = JSON.parse(await fs.readFile(file, 'utf8')) as { seeding?: Array<{ mediaId?: unknown }>, wanted?: Record<string, unknown> }
    return {
      seeded: new Set((state.seeding ?? []).map(s => s?.mediaId).filter((id): id is string => typeof id === 'string')),
      wanted: new Map(Object.entries(state.wanted ?? {}).filter((e): e is [string, number] => Number.isFinite(e[1])))
    }
  } catch {
    return { seeded: new Set(), wanted: new Map() }
  }
}
