/** The listings: the caller's own media, or every public file; newest first, paged by cursor. */
import { badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { BlobRepository, BlobRow } from '../catalog/blobRepository.ts'
import { encodeCursor, type ListingPosition } from '../catalog/listingCursor.ts'
import type { MediaRecord, OwnedMedia, OwnerKey, RecordRepository } from '../records/recordRepository.ts'
import type { MediaSeeder, SeedingState } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'

export interface ListingDeps {
  catalog: Catalog
  records: RecordRepository
  blobs: BlobRepository
  seeder: MediaSeeder
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

/** A file in its owner's own listing: with their pin and tags, and how the torrent they see is seeded. */
export interface OwnedListItem extends MediaListItem {
  pinned: boolean
  /** `missing`: the bytes are gone from the store; else the seeder's state of the torrent (`off`: not seeded). */
  seeding: SeedingState | 'missing'
  tags: string[]
}

export interface ListingQuery {
  /** The caller's own files, else every public file. */
  mine: boolean
  limit: number
  cursor?: ListingPosition
  /** Text in the name, description or original name (own files only). */
  q?: string
}

export class Listing {
  private readonly deps: ListingDeps

  constructor (deps: ListingDeps) {
    this.deps = deps
  }

  /** The caller's own media (`mine`), else every public file; newest first, paged by cursor. */
  async list (caller: Caller, opts: ListingQuery): Promise<{ items: MediaListItem[], nextCursor: string | null }> {
    if (opts.mine && caller === undefined) throw loginRequired()
    if (!opts.mine && opts.q !== undefined) throw badRequest('bad_query', 'q searches your own files: add owner=me (signed in).')
    const { records, catalog } = this.deps
    const items: MediaListItem[] = []
    let last: ListingPosition | undefined
    if (opts.mine) {
      const rows = await records.listByOwner(caller!, { limit: opts.limit, ...(opts.cursor ? { after: opts.cursor } : {}), ...(opts.q !== undefined ? { q: opts.q } : {}) })
      for (const row of rows) items.push(this.ownedItem(row))
      const end = rows[rows.length - 1]?.record
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

  /** One of the owner's files as their listing shows it, or the not-found error. */
  async owned (mediaId: string, owner: OwnerKey): Promise<OwnedListItem> {
    const [row] = await this.deps.records.listByOwner(owner, { limit: 1, mediaId })
    if (!row) throw notFound()
    return this.ownedItem(row)
  }

  private ownedItem ({ record, blob, seeded }: OwnedMedia): OwnedListItem {
    const item = listItem(record, blob, record.accessLevel === 'private' ? record : undefined, true)
    return {
      ...item,
      pinned: record.pinned,
      seeding: blob.missing ? 'missing' : this.deps.seeder.seedingState(item.infoHash, seeded),
      tags: record.tags
    }
  }
}

/** A listed file: its face, or the owner's own name and torrent for their private record. */
function listItem (r: MediaRecord, blob: Pick<BlobRow, 'name' | 'mimeType' | 'fileSize' | 'infoHash'>, privateRecord: MediaRecord | undefined, mine: boolean): MediaListItem {
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
