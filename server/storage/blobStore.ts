/**
 * Where blobs live. The filesystem store is the embedded default; an object store can take
 * its place behind this interface (see DESIGN.md "Scale path").
 */
import type { Readable } from 'node:stream'
import type { MediaManifest } from '../../shared/media.ts'
import type { ByteSource } from '../../shared/readOnlyChunkStore.ts'
import type { UploadStore } from './uploadStore.ts'

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

/**
 * A stored blob read by position, the way to read part of it: the seeder's chunk store reads
 * pieces with readAt, HTTP range responses read into their own reused buffers with readInto (in
 * order, so a remote store can keep one ranged GET open across calls). Opened on the first read:
 * a blob that is not stored fails then, with not found. Close it when done.
 */
export interface BlobReader extends ByteSource {
  /** Fill `buffer` (or part of it) with the bytes from `position` on: how many it read, 0 at the end. */
  readInto (buffer: Uint8Array, position: number): Promise<number>
  close (): Promise<void>
}

/**
 * Public files' bytes that anyone may read from the store itself, with no node in the path (an
 * object store's S3_PUBLIC_URL, named as a web seed): a copy kept only while the file is public,
 * under a key apart from everything else, so the store can let anyone read those keys alone.
 */
export interface PublicObjects {
  /** Where anyone reads the file's copy (whether or not it is there). */
  url (mediaId: string): string
  /** Copy a stored blob there; nothing when the copy is there already or the blob is not stored. */
  put (mediaId: string): Promise<void>
  remove (mediaId: string): Promise<void>
  /** The ids that have a copy. */
  list (): AsyncIterable<string>
}

export interface BlobStore {
  /** Set when the store serves public files to anyone itself (see PublicObjects). */
  readonly publicObjects?: PublicObjects
  /**
   * Create folders, remove uploads left in flight by a crash; `directIo`: uploads bypass the page
   * cache (undefined: uploads are not written to local files). Throws what to fix when the store
   * cannot be used.
   */
  init (): Promise<{ sweptIncoming: number, directIo?: boolean }>
  /** Whether uploads can be stored now (for /readyz): throws the reason, naming settings, never paths. */
  check (): Promise<void>
  /**
   * A store whose uploads in flight outlive a crash of the process (an object store shared by
   * several): delete those no process has added to for `graceMs`; how many.
   */
  collectStaging? (graceMs: number): Promise<number>
  /** Let go of connections (the server is closing). */
  close? (): Promise<void>
  /**
   * Where resumable uploads' bytes wait, when this store keeps them too (a bucket every node
   * shares: any node takes an upload's next request); else they are in MEDIA_DIR.
   */
  uploadStore? (): UploadStore
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
  /** manifest.json and the .torrent as written at publish (the seed's layout): read only to import a folder the database does not know (catalog/importMediaDir.ts). */
  readManifest (mediaId: string): Promise<MediaManifest>
  readTorrent (mediaId: string): Promise<Uint8Array>
  /** All of the blob's bytes, in order (a not-stored blob: not found). */
  read (mediaId: string): Promise<Readable>
  reader (mediaId: string): BlobReader
  /**
   * Where the blob lives, for people and the seed's API (SeedInfo.filePath): a path in this
   * store, an s3:// URL in an object store. Only the store itself opens it.
   */
  location (mediaId: string): string
  /** Whether `location` names the blob's location (seedFile seeds nothing else). */
  isLocation (location: string, mediaId: string): boolean
  list (): AsyncIterable<string>
  remove (mediaId: string): Promise<void>
}
