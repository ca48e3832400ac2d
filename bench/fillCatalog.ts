/**
 * The benchmarks' fast fill: N stored public files as public uploads leave them, without
 * an upload's per-file cost. Each file gets its folder in the blob store's layout (original,
 * manifest.json, torrent, built by the code ingest uses: real SHA-256 id, real info dict) and the
 * rows the upload's transaction writes (mediaService addRecordNow: blobs with its listing time,
 * media_records, seeds), in the catalogue's own tables. What it skips: fsync, staging and rename
 * (the folder is written in place), and one transaction per file (a few hundred files per
 * transaction, each table one multi-row insert).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import bencode from 'bencode'
import { sql, type Insertable } from 'kysely'
import { pino } from 'pino'
import type { MediaManifest } from '../shared/media.ts'
import { buildTorrent, infoDict, magnetURI, pieceLength } from '../shared/torrent.ts'
import { BlobRepository } from '../server/catalog/blobRepository.ts'
import { SeedRepository } from '../server/catalog/seedRepository.ts'
import { SeederJsonMark } from '../server/catalog/seederJsonMark.ts'
import { importMediaDir } from '../server/catalog/importMediaDir.ts'
import type { Database, Tx } from '../server/db/database.ts'
import type { BlobsTable, MediaRecordsTable, SeedsTable } from '../server/db/schema.ts'
import { Catalog } from '../server/media/catalog.ts'
import { FsBlobStore } from '../server/storage/fsBlobStore.ts'
import { ContentHasher } from '../server/upload/contentHasher.ts'
import { sha1 } from '../server/upload/nodeHashers.ts'

/** Files per transaction: SQLite takes 32,766 parameters per statement and PostgreSQL 65,535; a row here has at most 11. */
const BATCH = 500
const MIME_TYPE = 'application/octet-stream'

export interface FillOptions {
  /** Opened with openDatabase (migrated), empty of files. */
  database: Database
  mediaDir: string
  files: number
  /** File i's bytes: no two alike (the SHA-256 is the id). */
  bytesOf: (i: number) => Uint8Array
  /** The key that uploaded file i; default anonymous (''). */
  ownerOf?: (i: number) => string
  /** How many files to hand back, picked at random among all (memory stays flat at any N). */
  sample?: number
  /** After each transaction, with the files stored so far. */
  onProgress?: (done: number) => void | Promise<void>
}

/** A stored file as the benchmarks use it: its id, and its listing position (for cursors). */
export interface FilledFile {
  mediaId: string
  name: string
  fileSize: number
  listedAt: number
}

/** Hash bytes as ingest does: SHA-256 (the mediaId) and the torrent's SHA-1 pieces, one pass. */
export function hashOnce (bytes: Uint8Array): { mediaId: string, pieces: { pieceLength: number, pieces: Uint8Array } } {
  const hasher = new ContentHasher([pieceLength(bytes.length)])
  hasher.update(bytes)
  const { mediaId, pieces } = hasher.finish()
  if (!pieces) throw new Error('piece hashes missing')
  return { mediaId, pieces }
}

interface Rows { blobs: Array<Insertable<BlobsTable>>, records: Array<Insertable<MediaRecordsTable>>, seeds: Array<Insertable<SeedsTable>> }

/**
 * Fill an empty catalogue with `files` public files, newest last (file i was
 * uploaded files − i seconds ago). Returns a uniform random sample of them.
 */
export async function fillCatalog (opts: FillOptions): Promise<FilledFile[]> {
  const { database, mediaDir, files } = opts
  const store = new FsBlobStore(mediaDir)
  await store.init()
  // A server's first start over an empty MEDIA_DIR: nothing to import, and none to do on the next start.
  await importMediaDir({ database, store, mediaDir, freshDatabase: database.fresh, log: pino({ level: 'silent' }) })
  // The torrent on disk names trackers and a web seed as an upload's does (the server serves its own from the row).
  const catalog = new Catalog({ store, blobs: new BlobRepository(database.db), publicUrl: 'http://127.0.0.1:3000', extraTrackers: [], seederKey: '' })
  await fastWrites(database)
  const sample: FilledFile[] = []
  const wanted = opts.sample ?? 0
  const startedAt = Date.now()
  for (let from = 0; from < files; from += BATCH) {
    const rows: Rows = { blobs: [], records: [], seeds: [] }
    const folders: Array<Promise<void>> = []
    for (let i = from; i < Math.min(files, from + BATCH); i++) {
      const at = startedAt - (files - i) * 1000
      const file = storedFile(catalog, { bytes: opts.bytesOf(i), name: `file-${i}.bin`, owner: opts.ownerOf?.(i) ?? '', at }, rows)
      folders.push(writeFolder(mediaDir, file))
      // Reservoir sampling: every file is in the sample with the same chance.
      const slot = i < wanted ? i : Math.floor(Math.random() * (i + 1))
      if (slot < wanted) sample[slot] = { mediaId: file.manifest.mediaId, name: file.manifest.originalName, fileSize: file.bytes.length, listedAt: at }
    }
    // The folder first, then its rows: the order of an upload (a crash between leaves a folder reconcile collects).
    await Promise.all(folders)
    await database.transaction(async tx => {
      await fastCommit(tx, database)
      await tx.insertInto('blobs').values(rows.blobs).execute()
      await tx.insertInto('media_records').values(rows.records).execute()
      await tx.insertInto('seeds').values(rows.seeds).execute()
      await new SeedRepository(tx, database.dialect).counted('public', rows.seeds.length)
      // Files listed: seeder.json lacks them until the server writes it (one mark per batch is enough).
      await new SeederJsonMark(tx).mark()
    })
    await opts.onProgress?.(Math.min(files, from + BATCH))
  }
  return sample
}

interface StoredFile { bytes: Uint8Array, manifest: MediaManifest, torrentFile: Uint8Array }

/** One public upload's folder contents and rows, stored `at` (ms). */
function storedFile (catalog: Catalog, upload: { bytes: Uint8Array, name: string, owner: string, at: number }, rows: Rows): StoredFile {
  const { bytes, name, owner, at } = upload
  const { mediaId, pieces } = hashOnce(bytes)
  const createdAt = new Date(at)
  const input = { name, length: bytes.length, ...pieces }
  // As ingest.ts publishUpload builds them.
  const transport = catalog.transport(mediaId)
  const { infoHash, torrentFile } = buildTorrent(input, transport, sha1, createdAt)
  const manifest: MediaManifest = {
    mediaId,
    originalName: name,
    mimeType: MIME_TYPE,
    fileSize: bytes.length,
    infoHash,
    magnetURI: magnetURI(infoHash, name, transport),
    pieceLength: pieces.pieceLength,
    createdAt: createdAt.toISOString()
  }
  // As mediaService addRecordNow writes them for a first, public upload.
  rows.blobs.push({
    media_id: mediaId,
    file_size: bytes.length,
    piece_length: pieces.pieceLength,
    info: bencode.encode(infoDict(input)),
    name,
    mime_type: MIME_TYPE,
    info_hash: infoHash,
    listed_at: at,
    published_at: at,
    created_at: manifest.createdAt
  })
  rows.records.push({
    media_id: mediaId,
    owner,
    access_level: 'public',
    name: null,
    description: null,
    original_name: name,
    mime_type: MIME_TYPE,
    torrent_salt: null,
    private_info_hash: null,
    file_size: bytes.length,
    created_at: manifest.createdAt
  })
  rows.seeds.push({ info_hash: infoHash, media_id: mediaId, kind: 'public', pinned: 0, ranked_at: at })
  return { bytes, manifest, torrentFile }
}

/** The folder as the store's publish leaves it, written in place and not flushed (the fill's one shortcut on disk). */
async function writeFolder (mediaDir: string, file: StoredFile): Promise<void> {
  const dir = path.join(mediaDir, file.manifest.mediaId)
  await fs.mkdir(dir)
  await Promise.all([
    fs.writeFile(path.join(dir, 'original'), file.bytes),
    fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(file.manifest, null, 2)),
    fs.writeFile(path.join(dir, 'torrent'), file.torrentFile)
  ])
}

/** SQLite: no flush per commit and a bigger page cache on the fill's connection (both end with it; the file is the same). */
async function fastWrites (database: Database): Promise<void> {
  if (database.dialect !== 'sqlite') return
  await sql`PRAGMA synchronous = OFF`.execute(database.db)
  await sql`PRAGMA cache_size = -262144`.execute(database.db)
}

/** PostgreSQL: this transaction's commit does not wait for the WAL flush. */
async function fastCommit (tx: Tx, database: Database): Promise<void> {
  if (database.dialect === 'postgres') await sql`SET LOCAL synchronous_commit = off`.execute(tx)
}
