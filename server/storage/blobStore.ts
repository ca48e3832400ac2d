/**
 * Where blobs live. The filesystem store is the embedded default; an object store can take
 * its place behind this interface (see DESIGN.md "Scale path").
 */
import type { Readable } from 'node:stream'
import type { MediaManifest } from '../../shared/media.ts'

/** Bytes staged for publishing: exactly one of commit/abort. */
export interface PendingBlob {
  /** The staged bytes, once written (for a second pass when the piece length was not known). */
  read (): Readable
  /** Make the blob visible under its id, all or nothing. 'existed' when it was already stored. */
  commit (manifest: MediaManifest, torrentFile: Uint8Array): Promise<'created' | 'existed'>
  abort (): Promise<void>
}

/** Where an upload's bytes go: each batch at its offset in the file, as the hash job sends it. */
export interface FileWriter {
  /** `aligned`: the memory is page-aligned, so the write may go straight to the disk. */
  write (bytes: Uint8Array, position: number, aligned: boolean): Promise<void>
}

/** An upload in flight: its bytes go to `file`, then commit or abort. */
export interface StagingBlob extends PendingBlob {
  readonly file: FileWriter
}

export interface BlobStat {
  size: number
}

export interface BlobStore {
  /** Create folders, remove uploads left in flight by a crash; `directIo`: uploads bypass the page cache. */
  init (): Promise<{ sweptIncoming: number, directIo: boolean }>
  begin (): Promise<StagingBlob>
  /**
   * Stage a finished file on the same disk (a resumable upload's bytes) without copying it.
   * If it is not published (abort, or a failed commit) the file is put back where it was.
   */
  adopt (file: string): Promise<PendingBlob>
  has (mediaId: string): Promise<boolean>
  stat (mediaId: string): Promise<BlobStat | undefined>
  /** When the blob was last published, or published again (ms); undefined when it is not stored. A blob no record holds is collected only a grace period after this. */
  publishedAt (mediaId: string): Promise<number | undefined>
  readManifest (mediaId: string): Promise<MediaManifest>
  writeManifest (manifest: MediaManifest): Promise<void>
  readTorrent (mediaId: string): Promise<Uint8Array>
  writeTorrent (mediaId: string, torrentFile: Uint8Array): Promise<void>
  /** The whole file (HTTP ranges are read from originalPath by routes/bytes.ts). */
  createReadStream (mediaId: string): Readable
  /** The local path of the bytes: the seeder's chunk store and HTTP responses read it. */
  originalPath (mediaId: string): string
  list (): AsyncIterable<string>
  remove (mediaId: string): Promise<void>
}
