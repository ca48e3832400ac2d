/** The listings: the caller's own media, or every public file; newest first, paged by cursor. */
import { loginRequired } from '../../shared/errors.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { BlobRepository, BlobRow } from '../catalog/blobRepository.ts'
import { encodeCursor, type ListingPosition } from '../catalog/listingCursor.ts'
import type { MediaRecord, RecordRepository } from '../records/recordRepository.ts'
import type { Catalog } from './catalog.ts'

export interface ListingDeps {
  catalog: Catalog
  records: RecordRepository
  blobs: BlobRepository
}

export interface MediaListItem {
  mediaId: string
  name: string | null
  description: string | null
  originalName: string
  mimeType: string
  fileSize: number
  infoHash: string
  accessLevel: MediaRecord['accessLevel']
  owner: string | null
  createdAt: string
}

export class Listing {
  private readonly deps: ListingDeps

  constructor (deps: ListingDeps) {
    this.deps = deps
  }

  /** The caller's own media (`mine`), else every public file; newest first, paged by cursor. */
  async list (caller: Caller, opts: { mine: boolean, limit: number, cursor?: ListingPosition }): Promise<{ items: MediaListItem[], nextCursor: string | null }> {
    if (opts.mine && caller === undefined) throw loginRequired()
    const { records, catalog } = this.deps
    const items: MediaListItem[] = []
    let last: ListingPosition | undefined
    if (opts.mine) {
      const rows = await records.listByOwner(caller!, opts.limit, opts.cursor)
      for (const r of rows) {
        const blob = await catalog.blob(r.mediaId)
        if (blob) items.push(listItem(r, blob, r.accessLevel === 'private' ? r : undefined, true))
      }
      const end = rows[rows.length - 1]
      if (end && rows.length === opts.limit) last = { at: end.createdAt, mediaId: end.mediaId }
    } else {
      const after = opts.cursor && { listedAt: Number(opts.cursor.at), mediaId: opts.cursor.mediaId }
      const blobs = await this.deps.blobs.listed(opts.limit, after && Number.isFinite(after.listedAt) ? after : undefined)
      for (const blob of blobs) {
        const first = await records.firstPublic(blob.mediaId)
        if (first && !blob.missing) items.push(listItem(first, blob, undefined, false))
      }
      const end = blobs[blobs.length - 1]
      if (end && blobs.length === opts.limit) last = { at: String(end.listedAt), mediaId: end.mediaId }
    }
    return { items, nextCursor: last ? encodeCursor(last) : null }
  }
}

/** A listed file: its face, or the owner's own name and torrent for their private record. */
function listItem (r: MediaRecord, blob: BlobRow, privateRecord: MediaRecord | undefined, mine: boolean): MediaListItem {
  return {
    mediaId: r.mediaId,
    name: r.name,
    description: r.description,
    originalName: privateRecord?.originalName ?? blob.name,
    mimeType: privateRecord?.mimeType ?? blob.mimeType,
    fileSize: blob.fileSize,
    infoHash: privateRecord?.privateInfoHash ?? blob.infoHash,
    accessLevel: r.accessLevel,
    // Other people's keys are shown only where the record is public.
    owner: r.owner === '' ? null : (mine || r.accessLevel === 'public' ? r.owner : null),
    createdAt: r.createdAt
  }
}
