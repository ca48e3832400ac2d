/**
 * Where resumable uploads' bytes wait for the rest: one file per upload in MEDIA_DIR
 * (fsUploadStore.ts), or objects in the bucket that every node shares (s3UploadStore.ts), kept
 * apart from the blob store's staging area, since these must survive restarts until they
 * expire. What the bytes are (owner, offset, checkpoint) is in the database
 * (catalog/uploadRepository.ts), not here.
 */
import type { Readable } from 'node:stream'
import type { BlobStore, FileWriter, PendingBlob } from './blobStore.ts'

/** Writes one upload's next bytes; on a failure part of them may be in the store. */
export interface Appender extends FileWriter {
  close (): Promise<void>
}

/** The record an older version kept beside an upload's bytes, to be imported into the database once. */
export interface LegacyUploadRecord {
  /** Its info.json as parsed; undefined when it cannot be read (validated by the importer, not here). */
  info: unknown
  /** The last size it acknowledged, if it kept one. */
  acknowledged?: number
}

export interface StoredUpload {
  id: string
  legacy?: LegacyUploadRecord
}

export interface UploadStore {
  /**
   * Several nodes use this store at once (a bucket): nothing is repaired at start, since another
   * node may be writing; each request puts right what it finds (append). The hashing's state is
   * saved with every request, so the next one goes on from it on any node.
   */
  readonly shared: boolean
  /** Make room for uploads (before anything else). */
  init (): Promise<void>
  /** Every upload with a place here, with an older version's record where one is left. */
  list (): AsyncIterable<StoredUpload>
  /** The empty file for a new upload's bytes. */
  create (id: string): Promise<void>
  /** Bytes in the store; rejects when the upload has none (they were handed to the blob store, or lost). */
  size (id: string): Promise<number>
  /**
   * Write more of the upload's bytes from `offset`, the size acknowledged (each batch at its
   * offset: the caller tracks the size). The bytes count once close() resolves.
   */
  append (id: string, offset: number): Promise<Appender>
  /**
   * Cut back to the bytes known good: after a failed write, or at start when a crash left bytes
   * beyond the acknowledged offset (writes run in parallel, so maybe beyond a hole).
   */
  truncate (id: string, size: number): Promise<void>
  /** Bytes 0..end-1, for re-hashing after a restart. */
  read (id: string, end: number): Readable
  /** Flush the bytes to disk (before a checkpoint names them). */
  sync (id: string): Promise<void>
  /**
   * The finished upload's bytes, staged in `blobs` for publishing without a copy through this
   * process. Not published (abort, a failed commit): they are still the upload's.
   */
  handOver (id: string, blobs: BlobStore): Promise<PendingBlob>
  /** The older version's record is in the database now: remove it, keep the bytes. */
  removeLegacy (id: string): Promise<void>
  remove (id: string): Promise<void>
}
