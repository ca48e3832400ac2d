/**
 * Resumable uploads' state in the database: what the client declared, the offset acknowledged
 * to it, the piece checkpoint, and the answer once published. The bytes are in the upload store
 * under the same id; this row is what says how many of them count.
 */
import type { Insertable, Selectable } from 'kysely'
import type { UploadResult } from '../../shared/media.ts'
import { LOCK, lockInTransaction } from '../db/advisoryLock.ts'
import type { Db, Dialect } from '../db/database.ts'
import type { UploadsTable } from '../db/schema.ts'
import type { StorageUse } from '../records/recordRepository.ts'
import type { PieceCheckpoint } from '../upload/contentHasher.ts'
import { decodeHashState, encodeHashState, type HashState } from '../upload/hashState.ts'
import type { UploadFields } from '../upload/ingest.ts'

export interface UploadRow {
  id: string
  owner: string
  /** The declared Upload-Length. */
  length: number
  /** Bytes acknowledged: the offset the next request must start at. */
  size: number
  fileName: string
  mimeType: string
  fields: UploadFields
  /** The SHA-256 the bytes must have to be published. */
  sha256?: string
  /** ms */
  createdAt: number
  /** ms */
  expiresAt: number
  /** Set once published. */
  result?: UploadResult
}

/** A row as written first (or imported from an older version, which may have a checkpoint). */
export type NewUpload = UploadRow & { checkpoint?: PieceCheckpoint }

/** An upload taken out: what it still had room reserved for. */
export interface RemovedUpload { length: number, size: number, finished: boolean }

type Row = Omit<Selectable<UploadsTable>, 'checkpoint_piece_length' | 'checkpoint_pieces' | 'hash_state' | 'writer' | 'writer_until'>

const COLUMNS = ['id', 'owner', 'length', 'size', 'file_name', 'mime_type', 'access_level', 'name', 'description', 'torrent_salt', 'sha256', 'created_at', 'expires_at', 'result'] as const

const toUpload = (r: Row): UploadRow => ({
  id: r.id,
  owner: r.owner,
  length: Number(r.length),
  size: Number(r.size),
  fileName: r.file_name,
  mimeType: r.mime_type,
  fields: {
    accessLevel: r.access_level,
    ...(r.name !== null ? { name: r.name } : {}),
    ...(r.description !== null ? { description: r.description } : {}),
    ...(r.torrent_salt !== null ? { torrentSalt: r.torrent_salt } : {})
  },
  ...(r.sha256 !== null ? { sha256: r.sha256 } : {}),
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  ...(r.result !== null ? { result: JSON.parse(r.result) as UploadResult } : {})
})

const toValues = (u: NewUpload): Insertable<UploadsTable> => ({
  id: u.id,
  owner: u.owner,
  length: u.length,
  size: u.size,
  file_name: u.fileName,
  mime_type: u.mimeType,
  access_level: u.fields.accessLevel,
  name: u.fields.name ?? null,
  description: u.fields.description ?? null,
  torrent_salt: u.fields.torrentSalt ?? null,
  sha256: u.sha256 ?? null,
  created_at: u.createdAt,
  expires_at: u.expiresAt,
  checkpoint_piece_length: u.checkpoint?.pieceLength ?? null,
  checkpoint_pieces: u.checkpoint?.pieces ?? null,
  result: u.result ? JSON.stringify(u.result) : null
})

export class UploadRepository {
  /** The database, or the transaction these reads and writes belong to. */
  private readonly db: Db
  private readonly dialect: Dialect

  constructor (db: Db, dialect: Dialect) {
    this.db = db
    this.dialect = dialect
  }

  async get (id: string): Promise<UploadRow | undefined> {
    const row = await this.db.selectFrom('uploads').select(COLUMNS).where('id', '=', id).executeTakeFirst()
    return row && toUpload(row)
  }

  /**
   * A new upload, unless its owner has `maxOpen` unfinished ones already: counted and written in
   * one transaction, one at a time per owner, so uploads created at once never pass the limit
   * together. `open`: how many the owner had.
   */
  async create (upload: NewUpload, maxOpen: number): Promise<{ created: boolean, open: number }> {
    const run = async (db: Db): Promise<{ created: boolean, open: number }> => {
      // PostgreSQL's counts would not see each other's inserts.
      await lockInTransaction(db, this.dialect, LOCK.openUploads, upload.owner)
      const { files: open } = await new UploadRepository(db, this.dialect).openUse(upload.owner)
      if (open >= maxOpen) return { created: false, open }
      await db.insertInto('uploads').values(toValues(upload)).execute()
      return { created: true, open }
    }
    return this.db.isTransaction ? await run(this.db) : await this.db.transaction().execute(run)
  }

  /** An upload an older version kept on disk; one already here stays as it is. */
  async import (upload: NewUpload): Promise<void> {
    await this.db.insertInto('uploads').values(toValues(upload)).onConflict(oc => oc.column('id').doNothing()).execute()
  }

  /** The unfinished uploads of `owner`: how many, and the bytes they declared. */
  async openUse (owner: string): Promise<StorageUse> {
    const row = await this.db.selectFrom('uploads')
      .select(eb => [eb.fn.coalesce(eb.fn.sum<number>('length'), eb.lit(0)).as('bytes'), eb.fn.countAll<number>().as('files')])
      .where('owner', '=', owner).where('result', 'is', null).executeTakeFirstOrThrow()
    return { bytes: Number(row.bytes), files: Number(row.files) }
  }

  /** Unfinished uploads over all owners: how many, and the bytes they have yet to send. */
  async waiting (): Promise<StorageUse> {
    const row = await this.db.selectFrom('uploads')
      .select(eb => [eb.fn.coalesce(eb.fn.sum<number>(eb('length', '-', eb.ref('size'))), eb.lit(0)).as('bytes'), eb.fn.countAll<number>().as('files')])
      .where('result', 'is', null).executeTakeFirstOrThrow()
    return { bytes: Number(row.bytes), files: Number(row.files) }
  }

  /**
   * The bytes up to `size` are in, acknowledged to the client; `expiresAt` pushed forward with it.
   * `by`: only while this writer holds the upload (false when it does not any more), with the
   * hashing's state after those bytes (any other state is dropped).
   */
  async acknowledge (id: string, size: number, expiresAt?: number, by?: { writer: string, state?: HashState }): Promise<boolean> {
    let query = this.db.updateTable('uploads')
      .set({ size, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}), ...(by ? { hash_state: by.state ? encodeHashState(by.state) : null } : {}) })
      .where('id', '=', id)
    if (by) query = query.where('writer', '=', by.writer)
    return Number((await query.executeTakeFirst()).numUpdatedRows) === 1
  }

  /** The hashing's state saved with the acknowledged bytes, if there is one. */
  async hashState (id: string): Promise<HashState | undefined> {
    const row = await this.db.selectFrom('uploads').select('hash_state').where('id', '=', id).executeTakeFirst()
    return row?.hash_state ? decodeHashState(new Uint8Array(row.hash_state)) : undefined
  }

  /**
   * Hold the upload for `writer` until `until` (ms), unless another writer holds it still at
   * `now`; again by the same writer: held longer. Whether it holds it now. Every node's requests
   * take it, so only one at a time sends bytes to an upload or ends it.
   */
  async claim (id: string, writer: string, until: number, now: number): Promise<boolean> {
    const r = await this.db.updateTable('uploads').set({ writer, writer_until: until }).where('id', '=', id)
      .where(eb => eb.or([eb('writer', 'is', null), eb('writer', '=', writer), eb('writer_until', '<=', now)]))
      .executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  /** The writer is done with the upload. */
  async letGo (id: string, writer: string): Promise<void> {
    await this.db.updateTable('uploads').set({ writer: null, writer_until: null }).where('id', '=', id).where('writer', '=', writer).execute()
  }

  async checkpoint (id: string): Promise<PieceCheckpoint | undefined> {
    const row = await this.db.selectFrom('uploads').select(['checkpoint_piece_length', 'checkpoint_pieces']).where('id', '=', id).executeTakeFirst()
    if (!row || row.checkpoint_piece_length === null || row.checkpoint_pieces === null) return undefined
    return { pieceLength: row.checkpoint_piece_length, pieces: new Uint8Array(row.checkpoint_pieces) }
  }

  async saveCheckpoint (id: string, checkpoint: PieceCheckpoint): Promise<void> {
    await this.db.updateTable('uploads').set({ checkpoint_piece_length: checkpoint.pieceLength, checkpoint_pieces: checkpoint.pieces })
      .where('id', '=', id).execute()
  }

  /** Published: every byte is in, the answer is kept until `expiresAt`, the checkpoint is not needed any more. */
  async finish (id: string, result: UploadResult, expiresAt: number): Promise<void> {
    await this.db.updateTable('uploads')
      .set(eb => ({ size: eb.ref('length'), result: JSON.stringify(result), expires_at: expiresAt, checkpoint_piece_length: null, checkpoint_pieces: null }))
      .where('id', '=', id).execute()
  }

  /**
   * Take the upload out; `expiredAt`: only if it has expired by then and no request holds it (a
   * request may have pushed its expiry forward meanwhile). Undefined when it was not there
   * (another took it first).
   */
  async remove (id: string, expiredAt?: number): Promise<RemovedUpload | undefined> {
    let query = this.db.deleteFrom('uploads').where('id', '=', id)
    // Expired, and no request (on any node) holds it.
    if (expiredAt !== undefined) query = query.where('expires_at', '<=', expiredAt).where(eb => eb.or([eb('writer', 'is', null), eb('writer_until', '<=', expiredAt)]))
    const row = await query.returning(['length', 'size', 'result']).executeTakeFirst()
    return row && { length: Number(row.length), size: Number(row.size), finished: row.result !== null }
  }

  /** Ids of uploads expired by `now`, in expiry order after `after`, a page at a time. */
  async expired (now: number, limit: number, after?: { expiresAt: number, id: string }): Promise<Array<{ expiresAt: number, id: string }>> {
    let query = this.db.selectFrom('uploads').select(['expires_at', 'id']).where('expires_at', '<=', now)
    if (after) {
      query = query.where(eb => eb.or([
        eb('expires_at', '>', after.expiresAt),
        eb.and([eb('expires_at', '=', after.expiresAt), eb('id', '>', after.id)])
      ]))
    }
    const rows = await query.orderBy('expires_at').orderBy('id').limit(limit).execute()
    return rows.map(r => ({ expiresAt: Number(r.expires_at), id: r.id }))
  }

  /** Unfinished uploads in id order after `after`: for checking each against its bytes at start. */
  async unfinished (limit: number, after = ''): Promise<Array<{ id: string, size: number }>> {
    const rows = await this.db.selectFrom('uploads').select(['id', 'size']).where('result', 'is', null).where('id', '>', after).orderBy('id').limit(limit).execute()
    return rows.map(r => ({ id: r.id, size: Number(r.size) }))
  }

  /** Of these ids, the ones whose upload is still waiting for bytes. */
  async unfinishedOf (ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await this.db.selectFrom('uploads').select('id').where('id', 'in', ids).where('result', 'is', null).execute()
    return new Set(rows.map(r => r.id))
  }
}
