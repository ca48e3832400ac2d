/**
 * Where resumable uploads wait for their next bytes: the bytes so far plus a small JSON record
 * that the upload service owns. Kept apart from the blob store's staging area, which is swept
 * on every start; these must survive restarts until they expire.
 */
import type { Readable } from 'node:stream'
import type { FileWriter } from './blobStore.ts'

/** Writes one upload's next bytes; on a failure part of them may be on disk. */
export interface Appender extends FileWriter {
  close (): Promise<void>
}

export interface StoredUpload {
  id: string
  /** The service's record, as it was last written (validated by the service, not here). */
  info: unknown
  /** Bytes on disk up to the last acknowledged size; undefined once the bytes were handed to the blob store. */
  size: number | undefined
}

export interface UploadStore {
  /** Create the folder and list what earlier runs left (unreadable records are skipped and reported). */
  init (): Promise<{ uploads: StoredUpload[], unreadable: string[] }>
  create (id: string, info: object): Promise<void>
  writeInfo (id: string, info: object): Promise<void>
  size (id: string): Promise<number>
  /** Write more of the upload's bytes (each batch at its offset: the caller tracks the size). */
  append (id: string): Promise<Appender>
  /**
   * Every byte before `size` is written. Writes run in parallel, so a crash can leave bytes
   * beyond a hole; at the next start init() cuts the file back to the last size acknowledged.
   */
  acknowledge (id: string, size: number): Promise<void>
  /** Cut a failed write back to the bytes known good. */
  truncate (id: string, size: number): Promise<void>
  /** Bytes 0..end-1, for re-hashing after a restart. */
  read (id: string, end: number): Readable
  /** Flush the bytes to disk (before a checkpoint names them). */
  sync (id: string): Promise<void>
  /** The local path of the bytes, for the blob store to adopt at the end. */
  dataPath (id: string): string
  remove (id: string): Promise<void>
}
