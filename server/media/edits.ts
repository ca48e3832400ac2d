/**
 * An owner edits their record of a file (PATCH /api/media/:id): its name, description and tags,
 * and its access level. Every change is one transaction, under the file's lock and the owner's:
 * the record, the torrents it makes the server seed, the file's listing, and the owner's signed
 * OIP record of it, which no longer describes the file and goes (the app signs a new one).
 */
import { randomBytes } from 'node:crypto'
import { badRequest, loginRequired, notFound, unlessMissing } from '../../shared/errors.ts'
import { ACCESS_LEVELS, type AccessLevel, type MediaEdit, type OwnedListItem } from '../../shared/media.ts'
import { RECORD_LIMITS } from '../../shared/record.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { BlobRow } from '../catalog/blobRepository.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { Logger } from '../logger.ts'
import type { RecordThumbnails } from '../records/recordThumbnails.ts'
import type { MediaRecord, RecordChange } from '../records/recordRepository.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import { storableText } from '../upload/ingest.ts'
import type { Catalog } from './catalog.ts'
import type { KeyedMutex } from './keyedMutex.ts'
import type { Listing } from './listing.ts'
import { pinLimit } from './pins.ts'
import { SeedChanges } from './seedChanges.ts'

export interface EditsDeps {
  access: AccessPolicy
  catalog: Catalog
  seeder: MediaSeeder
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  /** One change at a time per file (shared with new records, deletes and reconcile). */
  perMedia: KeyedMutex
  /** What an edit answers: the file as the owner's listing shows it. */
  listing: Listing
  /** The thumbnails signed records name: they follow their file's access. */
  thumbnails: RecordThumbnails
  log: Logger
}

const EDITABLE = ['name', 'description', 'tags', 'accessLevel']

/**
 * The edit in a PATCH body, or a 400 `bad_field` naming the field. Texts and tags are bounded as
 * a signed record's are (shared/record.ts), so the app can always sign the edited record.
 */
export function parseEdit (body: Record<string, unknown>): MediaEdit {
  for (const key of Object.keys(body)) {
    if (!EDITABLE.includes(key)) throw badRequest('bad_field', `"${key}" is not a field you can edit: send any of ${EDITABLE.join(', ')}.`)
  }
  const text = (key: 'name' | 'description', max: number): string | null | undefined => {
    const v = body[key]
    if (v === undefined) return undefined
    if (v === null || v === '') return null
    if (typeof v !== 'string' || v.length > max) throw badRequest('bad_field', `"${key}" must be a string of at most ${max} characters, or null to clear it.`)
    return storableText(key, v)!
  }
  const edit: MediaEdit = {}
  const name = text('name', RECORD_LIMITS.name)
  if (name !== undefined) edit.name = name
  const description = text('description', RECORD_LIMITS.description)
  if (description !== undefined) edit.description = description
  if (body.tags !== undefined) edit.tags = tagList(body.tags)
  if (body.accessLevel !== undefined) {
    if (!ACCESS_LEVELS.includes(body.accessLevel as AccessLevel)) throw badRequest('bad_field', `"accessLevel" must be "public" or "private", got ${JSON.stringify(body.accessLevel)}.`)
    edit.accessLevel = body.accessLevel as AccessLevel
  }
  return edit
}

/** The tags, each once, in the order given. */
function tagList (value: unknown): string[] {
  const { tags: most, tag: longest } = RECORD_LIMITS
  if (!Array.isArray(value) || value.length > most) throw badRequest('bad_field', `"tags" must be an array of at most ${most} tags (send [] for none).`)
  value.forEach((tag: unknown, i) => {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > longest) throw badRequest('bad_field', `"tags[${i}]" must be a string of 1 to ${longest} characters.`)
    storableText(`tags[${i}]`, tag)
  })
  return [...new Set(value as string[])]
}

/** The part of `edit` that differs from the record. */
function changeOf (record: MediaRecord, edit: MediaEdit): RecordChange {
  const change: RecordChange = {}
  if (edit.name !== undefined && edit.name !== record.name) change.name = edit.name
  if (edit.description !== undefined && edit.description !== record.description) change.description = edit.description
  if (edit.tags !== undefined && JSON.stringify(edit.tags) !== JSON.stringify(record.tags)) change.tags = edit.tags
  if (edit.accessLevel !== undefined && edit.accessLevel !== record.accessLevel) change.accessLevel = edit.accessLevel
  return change
}

export class Edits {
  private readonly deps: EditsDeps

  constructor (deps: EditsDeps) {
    this.deps = deps
  }

  /**
   * Apply the caller's edit to their record; the file as their listing now shows it. An access
   * change takes the thumbnails its signed records named along, so they stay readable by
   * exactly those who may read the file.
   */
  async edit (mediaId: string, caller: Caller, body: Record<string, unknown>): Promise<OwnedListItem> {
    if (caller === undefined) throw loginRequired()
    const edit = parseEdit(body)
    const { perMedia, thumbnails, listing } = this.deps
    // Read first: the edit drops the records that name them.
    const named = edit.accessLevel === undefined ? [] : await thumbnails.of(mediaId, caller)
    // Under the file's lock: an access change lists or unlists it, as uploads and deletes do.
    const item = await perMedia.run(mediaId, async () => {
      await this.editNow(mediaId, caller, edit)
      return await listing.owned(mediaId, caller)
    })
    for (const id of named) await perMedia.run(id, async () => await this.editNow(id, caller, { accessLevel: edit.accessLevel! })).catch(unlessMissing)
    return item
  }

  private async editNow (mediaId: string, caller: string, edit: MediaEdit): Promise<void> {
    const { access, catalog, seeder, transaction, log } = this.deps
    await access.require(caller, 'own', mediaId)
    const changes = await transaction(async tx => {
      // The owner's lock first, as every change of records takes it, so no two changes wait on each other in a circle.
      await tx.records.lockOwner(caller)
      const record = await tx.records.get(mediaId, caller)
      const blob = await tx.blobs.get(mediaId)
      if (!record || !blob) throw notFound()
      const change = changeOf(record, edit)
      const changes = new SeedChanges(tx, catalog)
      if (Object.keys(change).length === 0) return changes
      if (change.accessLevel === 'private') {
        // A torrent of the owner's own, as a private upload gets.
        change.torrentSalt = randomBytes(32).toString('hex')
        change.privateInfoHash = catalog.privateTorrent(blob, record.originalName, change.torrentSalt, { announce: [], urlList: [] }).infoHash
      } else if (change.accessLevel === 'public') {
        change.torrentSalt = null
        change.privateInfoHash = null
      }
      await tx.records.update(mediaId, caller, change)
      // The owner's signed record no longer says what the file is: the app signs a new one.
      await tx.oipRecords.removeForMedia(mediaId, caller)
      // A public file is everyone's to read: its shares go with its private torrent (they would not come back with another).
      if (change.accessLevel === 'public') await tx.shares.removeAll(mediaId, caller)
      if (change.accessLevel) await this.moveSeeds(tx, changes, record, blob, change.privateInfoHash ?? null)
      return changes
    })
    await changes.follow(seeder, access, log)
  }

  /**
   * The record's access level changed (written already): it leaves one torrent for the other.
   * To private: its own torrent is seeded, and the file is unlisted unless another public record
   * holds it. To public: its private torrent goes, and the file is listed as a public upload of
   * it would be. A pin goes with the record; it is refused (409) only when it needs a server
   * pin slot none is left of.
   */
  private async moveSeeds (tx: CatalogRepositories, changes: SeedChanges, record: MediaRecord, blob: BlobRow, privateInfoHash: string | null): Promise<void> {
    const { mediaId, pinned } = record
    const now = Date.now()
    let pinnedBefore = 0
    if (pinned) {
      await tx.seeds.lockPinSlots()
      pinnedBefore = await tx.seeds.pinnedCount()
    }
    if (privateInfoHash) {
      await changes.seed({ infoHash: privateInfoHash, mediaId, kind: 'private', pinned, at: now })
      if (!await changes.unlistUnlessPublic(blob) && pinned) await changes.pinAsPublicRecordsSay(mediaId, blob.infoHash)
    } else {
      if (record.privateInfoHash) await changes.unseed(record.privateInfoHash)
      const listed = blob.listedAt === null ? await changes.list(blob, record, now) : blob
      if (pinned) await changes.pin(listed.infoHash, true)
    }
    const { maxPinned } = this.deps.seeder
    if (pinned && await tx.seeds.pinnedCount() > Math.max(pinnedBefore, maxPinned)) throw pinLimit(maxPinned)
  }
}
