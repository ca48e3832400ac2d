/**
 * IndexedDB (idb): the sealed wallet and the library of files this browser added. Each write
 * is one transaction, so a file is either fully recorded or not at all.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import type { UploadResult } from '../../shared/media.ts'
import type { SignatureFormat } from '../../shared/signing.ts'
import type { SealedWallet } from './keystore.ts'

export interface LibraryFile {
  mediaId: string
  /** The bytes, kept by the browser (a File is a Blob). */
  blob: Blob
  name: string
  type: string
  size: number
  accessLevel: 'public' | 'private'
  title: string
  description: string
  /** A small picture of it (shared/thumbnail.ts), made while it was hashed or kept. */
  thumbnail?: Blob
  /** Why an image or video has no thumbnail (damaged, too large, …): the row says so. */
  thumbnailNote?: string
  /** The thumbnail's mediaId on the server (uploaded with the file's access level), named in the record. */
  thumbnailId?: string
  /** The record's tags (set in My files). */
  tags?: string[]
  /** The torrent this tab seeds (same infoHash as the server's for this owner). */
  torrentFile?: Uint8Array
  /** The infoHash this browser computed from its own hashing, before the server answered. */
  localInfoHash?: string
  /** The infoHash being seeded: the server's torrent for this owner (checked against our pieces). */
  infoHash?: string
  torrentSalt?: string
  /** The server's resumable upload of these bytes, while it is not complete. */
  uploadUrl?: string
  /** The server's answer once the upload (or claim) is done. */
  server?: UploadResult
  recordId?: string
  /** How the server holds the record's signature: a legacy one is signed anew at the next unlock. */
  recordSignatureFormat?: SignatureFormat
  /** When this browser deleted the file from the server (My files): the copy here stays, nothing is uploaded again by itself. */
  serverDeletedAt?: string
  /** Pinned on the server (set from this app): always seeded there, never idle. */
  pinned?: boolean
  /** Its record goes to the OIP network too (public → Arweave), as chosen when it was added. */
  publishToNetwork?: boolean
  /** Downloaded here (share link or magnet), not uploaded: the torrent came with it, nothing to upload. */
  downloaded?: true
  seeding: boolean
  addedAt: string
}

interface Schema extends DBSchema {
  wallet: { key: string, value: SealedWallet }
  files: { key: string, value: LibraryFile }
}

let db: Promise<IDBPDatabase<Schema>> | undefined

export function openLibraryDb (): Promise<IDBPDatabase<Schema>> {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(new Error('This browser has no IndexedDB (private browsing?). The app needs it to keep your key and files.'))
  }
  db ??= openDB<Schema>('oip-media-seeder', 1, {
    upgrade (d) {
      d.createObjectStore('wallet')
      d.createObjectStore('files', { keyPath: 'mediaId' })
    }
  })
  return db
}

/** Quota errors say what to do instead of failing silently. */
export async function withQuota<T> (write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    if ((err as DOMException)?.name === 'QuotaExceededError') {
      throw new Error('The browser has no room left for this file. Remove files from the library or allow more storage, then try again.')
    }
    throw err
  }
}
