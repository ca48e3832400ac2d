/**
 * The listings: the caller's own media (with whom each is shared), the private files others
 * share with the caller, or every public file; newest first, paged by cursor.
 */
import { badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import type { MediaListItem, OwnedListItem, RecordListItem, SharedListItem, ShareView } from '../../shared/media.ts'
import type { Publication } from '../../shared/publication.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { BlobRepository, BlobRow } from '../catalog/blobRepository.ts'
import { encodeCursor, type ListingPosition } from '../catalog/listingCursor.ts'
import type { MediaRecord, OwnedMedia, OwnerKey, RecordRepository } from '../records/recordRepository.ts'
import { thumbnailKey, type RecordThumbnails } from '../records/recordThumbnails.ts'
import type { MediaShare, ShareRepository } from '../records/shareRepository.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'
import { shareView } from './shares.ts'

export interface ListingDeps {
  catalog: Catalog
  records: RecordRepository
  blobs: BlobRepository
  shares: ShareRepository
  seeder: MediaSeeder
  thumbnails: RecordThumbnails
  /** Where the owner's current record of each file went on the OIP network, by media id. */
  publications?: (owner: OwnerKey, mediaIds: string[]) => Promise<Map<string, Publication>>
}

interface Page<T> { items: T[], nextCursor: string | null }

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

  /** The caller's own media (`mine`, each with whom it is shared), else every public file; newest first, paged by cursor. */
  async list (caller: Caller, opts: ListingQuery): Promise<Page<MediaListItem>> {
    if (opts.mine && caller === undefined) throw loginRequired()
    if (!opts.mine && opts.q !== undefined) throw badRequest('bad_query', 'q searches your own files: add owner=me (signed in).')
    const { records, catalog } = this.deps
    const items: MediaListItem[] = []
    let last: ListingPosition | undefined
    if (opts.mine) {
      const rows = await records.listByOwner(caller!, { limit: opts.limit, ...(opts.cursor ? { after: opts.cursor } : {}), ...(opts.q !== undefined ? { q: opts.q } : {}) })
      items.push(...await this.ownedItems(caller!, rows))
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
    return (await this.ownedItems(owner, [row]))[0]!
  }

  /** The private files other keys share with the caller, live shares only, newest share first. */
  async sharedWithMe (caller: Caller, opts: { limit: number, cursor?: ListingPosition }): Promise<Page<SharedListItem>> {
    if (caller === undefined) throw loginRequired()
    const { cursor } = opts
    if (cursor && (cursor.owner === undefined || !/^\d{1,16}$/.test(cursor.at))) throw badRequest('bad_cursor', 'cursor must be the nextCursor of a previous page of this listing.')
    const rows = await this.deps.shares.sharedWith(caller, Date.now(), opts.limit, cursor && { at: Number(cursor.at), mediaId: cursor.mediaId, owner: cursor.owner! })
    const shown = await this.thumbnailsOf(rows)
    const items = rows.map(row => {
      const { pinned, ...item } = this.recordItem(row, shown)
      return { ...item, sharedBy: row.share.owner, expiresAt: shareView(row.share).expiresAt }
    })
    const end = rows[rows.length - 1]?.share
    const last = end && rows.length === opts.limit ? { at: String(end.createdAt), mediaId: end.mediaId, owner: end.owner } : undefined
    return { items, nextCursor: last ? encodeCursor(last) : null }
  }

  /** The owner's files, each with whom it is shared now (one query for the page's shares). */
  private async ownedItems (owner: OwnerKey, rows: OwnedMedia[]): Promise<OwnedListItem[]> {
    const shared = rows.filter(r => r.record.accessLevel === 'private').map(r => r.record.mediaId)
    const sharesOf = await this.deps.shares.ofRecords(owner, shared, Date.now())
    const shown = await this.thumbnailsOf(rows)
    const published = await this.deps.publications?.(owner, rows.map(r => r.record.mediaId)) ?? new Map<string, Publication>()
    return rows.map(row => {
      const publication = published.get(row.record.mediaId)
      return { ...this.recordItem(row, shown), sharedWith: (sharesOf.get(row.record.mediaId) ?? []).map(recipientOf), ...(publication ? { publication } : {}) }
    })
  }

  /** The thumbnails of a page's records (one query). */
  private async thumbnailsOf (rows: OwnedMedia[]): Promise<Map<string, string>> {
    return await this.deps.thumbnails.shownFor(rows.map(({ record }) => ({ mediaId: record.mediaId, owner: record.owner })))
  }

  /** A record's file as the key that reads through it sees it (its owner, or a recipient of a share: both see the record's own face). */
  private recordItem ({ record, blob, seeded }: OwnedMedia, thumbnails: Map<string, string>): RecordListItem {
    const item = listItem(record, blob, record.accessLevel === 'private' ? record : undefined, true)
    return {
      ...item,
      pinned: record.pinned,
      seeding: blob.missing ? 'missing' : this.deps.seeder.seedingState(item.infoHash, seeded),
      tags: record.tags,
      thumbnail: thumbnails.get(thumbnailKey(record.mediaId, record.owner)) ?? null
    }
  }
}

/** Whom a record is shared with, as its owner's listing shows it. */
const recipientOf = (share: MediaShare): Pick<ShareView, 'publicKey' | 'expiresAt'> => ({ publicKey: share.recipient, expiresAt: shareView(share).expiresAt })

/**
 * A listed file: its face, or the owner's own name and torrent for a private record (the
 * caller's own, or one shared with them). `showOwner`: the caller may see whose record it is.
 */
function listItem (r: MediaRecord, blob: Pick<BlobRow, 'name' | 'mimeType' | 'fileSize' | 'infoHash'>, privateRecord: MediaRecord | undefined, showOwner: boolean): MediaListItem {
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
    owner: r.owner === '' ? null : (showOwner || r.accessLevel === 'public' ? r.owner : null),
    createdAt: r.createdAt
  }
}
