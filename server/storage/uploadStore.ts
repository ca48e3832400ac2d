/**
 * Where resumable uploads wait for their next bytes: the bytes so far plus a small JSON record
 * that the upload service owns. Kept apart from the blob store's staging area, which is swept
 * on every start; these must survive restarts until they expire.
 */
import type { Readable } from 'node:stream'

/** Writes one upload's next bytes at its end. */
export interface Appender {
  /** Write the buffers in order at the current end; on failure part of them may be on disk. */
  write (buffers: Buffer[]): Promise<void>
  close (): Promise<void>
}

export interface StoredUpload {
  id: string
  /** The service's record, as it was last written (validated by the service, not here). */
  info: unknown
  /** Bytes on disk; undefined once the bytes were handed to the blob store. */
  size: number | undefined
}

export interface UploadStore {
  /** Create the folder and list what earlier runs left (unreadable records are skipped and reported). */
  init (): Promise<{ uploads: StoredUpload[], unreadable: string[] }>
  create (id: string, info: object): Promise<void>
  writeInfo (id: string, info: object): Promise<void>
  size (id: string): Promise<number>
  /** Append from `offset`, which must be the current size. */
  append (id: string, offset: number): Promise<Appender>
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
