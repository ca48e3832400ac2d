/**
 * OIP records: the owner publishes a signed description of a file they uploaded. The server
 * keeps only records whose signature checks out against the signed-in key, for media that key
 * holds, with the same access level. Private records look exactly like missing ones to others.
 * Records stored before the Bitcoin message format keep their old signature, named as such,
 * until their owner posts the same record signed anew.
 */
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import type { AccessLevel } from '../../shared/media.ts'
import type { Publication } from '../../shared/publication.ts'
import { validateRecord, type OipMediaRecord, type StoredOipRecord } from '../../shared/record.ts'
import { signatureFormatOf, verifyRecord } from '../../shared/signing.ts'
import { isThumbnailType, THUMBNAIL_MAX_BYTES, THUMBNAIL_MAX_SIDE, THUMBNAIL_TYPES } from '../../shared/thumbnail.ts'
import { magnetInfoHash } from '../../shared/torrent.ts'
import { canSeeRecord, type Caller } from '../access/accessPolicy.ts'
import { newRecordRow, type OipRecordRepository, type OipRecordRow } from './oipRecordRepository.ts'
import { encodeCursor, parseRecordSearch, type RecordSearchParams } from './recordSearch.ts'

export interface OipRecordServiceDeps {
  records: OipRecordRepository
  /** The caller's own upload of this media as the server answered it, if they hold one. */
  upload: (mediaId: string, owner: string) => Promise<UploadFacts | undefined>
  /** Where these records went on the OIP network, by record id (only what the caller may see of it). */
  publications?: (recordIds: string[], caller: Caller) => Promise<Map<string, Publication>>
  now?: () => Date
}

/** What the server knows of a key's upload; the record's media fields must say the same. */
export interface UploadFacts {
  accessLevel: AccessLevel
  /** The torrent the owner sees: their private one, or the public one. */
  infoHash: string
  httpUrl: string
  mimeType: string
  fileSize: number
}

/** The search's parameters as they came, and the page size (1–100). */
export interface OipRecordQuery extends RecordSearchParams {
  limit: number
}

const RECORD_ID = /^[0-9a-f]{64}$/

const missingRecord = (): AppError => new AppError(404, 'not_found', 'No record with this id. Check the id, or publish the record first (POST /api/records).')

const toStored = (row: OipRecordRow): StoredOipRecord => ({
  recordId: row.recordId,
  record: JSON.parse(row.recordJson) as OipMediaRecord,
  signature: row.signature,
  signatureFormat: signatureFormatOf(row.signature),
  createdAt: row.createdAt,
  source: row.source
})

export class OipRecordService {
  private readonly deps: OipRecordServiceDeps

  constructor (deps: OipRecordServiceDeps) {
    this.deps = deps
  }

  /** 201 for a new record, 200 when exactly this record was already stored. */
  async create (caller: Caller, body: { record?: unknown, signature?: unknown }): Promise<{ status: 200 | 201, record: StoredOipRecord }> {
    if (caller === undefined) throw loginRequired()
    const record = validateRecord(body.record)
    const { signature } = body
    if (typeof signature !== 'string') {
      throw badRequest('missing_signature', 'Send "signature": the owner key\'s Bitcoin signed message (BIP-137, base64) of "OIP record v1", a newline and the canonical JSON of the record (signRecord).')
    }
    if (signatureFormatOf(signature) === 'legacy-raw-sha256') {
      throw badRequest('legacy_signature', 'This is the old signature format (hex ECDSA over the bare canonical JSON), no longer accepted for new records: sign "OIP record v1", a newline and the canonical JSON as a Bitcoin signed message (BIP-137, base64), as signRecord does.')
    }
    if (!verifyRecord(record, signature)) {
      throw new AppError(401, 'bad_signature', 'The signature does not match this record: sign "OIP record v1", a newline and the canonical JSON of exactly this record as a Bitcoin signed message, with the key named in accessControl.owner_public_key.')
    }
    const owner = record.accessControl.owner_public_key
    if (owner !== caller) {
      throw new AppError(403, 'not_owner', 'The record must be signed by the key you are signed in with: set accessControl.owner_public_key to your public key and sign with that key.')
    }
    // Only the caller's own uploads are looked at, so this never tells whether others hold the file.
    const upload = await this.deps.upload(record.media.mediaId, owner)
    if (!upload) throw notFound()
    if (upload.accessLevel !== record.accessControl.access_level) {
      throw new AppError(409, 'access_mismatch', `You uploaded this media as ${upload.accessLevel}, but the record says ${record.accessControl.access_level}. Set accessControl.access_level to "${upload.accessLevel}" and sign again.`)
    }
    // A signed record is a claim anyone may check: it must describe the file as stored.
    const { media } = record
    const differs = ([
      ['contentType', media.contentType, upload.mimeType],
      ['size', media.size, upload.fileSize],
      ['httpUrl', media.httpUrl, upload.httpUrl],
      ['bittorrentAddress', magnetInfoHash(media.bittorrentAddress), upload.infoHash]
    ] as const).find(([, given, stored]) => given !== stored)
    if (differs) {
      const [field, given, stored] = differs
      const what = field === 'bittorrentAddress' ? 'names the torrent' : 'is'
      throw new AppError(409, 'media_mismatch', `record.media.${field} ${what} "${given ?? 'none'}", but your upload's is "${stored}". Copy the media fields from your upload's answer (GET /api/media/${media.mediaId}/info) and sign again.`)
    }
    await this.checkThumbnails(record, owner)
    const { records } = this.deps
    const saved = await records.save(newRecordRow(record, signature, this.deps.now?.() ?? new Date(), { thumbnails: media.thumbnails ?? [] }))
    // The same record, signed anew by its owner: the new signature replaces a legacy one.
    const row = !saved.created && signatureFormatOf(saved.row.signature) === 'legacy-raw-sha256'
      ? await records.replaceSignature(saved.row.recordId, signature)
      : saved.row
    return { status: saved.created ? 201 : 200, record: toStored(row) }
  }

  /**
   * Each thumbnail the record names is a small image the owner uploaded with the record's access
   * level (so whoever may read the file may read its thumbnail, and nobody else), or 409
   * `bad_thumbnail` naming it. Someone else's file looks the same as a missing one.
   */
  private async checkThumbnails (record: OipMediaRecord, owner: string): Promise<void> {
    const level = record.accessControl.access_level
    for (const [i, id] of (record.media.thumbnails ?? []).entries()) {
      const thumbnail = await this.deps.upload(id, owner)
      const wrong = (why: string): AppError => new AppError(409, 'bad_thumbnail', `record.media.thumbnails[${i}] ${why}`)
      if (!thumbnail) throw wrong(`(${id}) is not a file you uploaded. Upload the thumbnail first, as ${level} like the file, then sign the record.`)
      if (thumbnail.accessLevel !== level) throw wrong(`is ${thumbnail.accessLevel} and the file is ${level}: a thumbnail is read by whoever may read its file, so make it ${level} (PATCH /api/media/${id}) and sign again.`)
      if (!isThumbnailType(thumbnail.mimeType)) throw wrong(`is ${thumbnail.mimeType}: a thumbnail must be ${THUMBNAIL_TYPES.join(' or ')}.`)
      if (thumbnail.fileSize > THUMBNAIL_MAX_BYTES) throw wrong(`is ${thumbnail.fileSize} bytes: a thumbnail may have at most ${THUMBNAIL_MAX_BYTES} (${THUMBNAIL_MAX_SIDE} px on its long side is enough).`)
    }
  }

  async get (id: string, caller: Caller): Promise<StoredOipRecord> {
    const row = RECORD_ID.test(id) ? await this.deps.records.get(id) : undefined
    if (!row || !canSeeRecord(caller, row)) throw missingRecord()
    return (await this.withPublications([toStored(row)], caller))[0]!
  }

  private async withPublications (records: StoredOipRecord[], caller: Caller): Promise<StoredOipRecord[]> {
    const published = await this.deps.publications?.(records.map(r => r.recordId), caller)
    if (!published?.size) return records
    return records.map(r => {
      const publication = published.get(r.recordId)
      return publication ? { ...r, publication } : r
    })
  }

  /**
   * The records that match, public ones and the caller's own private ones (access policy's
   * canSeeRecord, asked in the query), in sortBy's order, paged by page or cursor.
   */
  async list (caller: Caller, query: OipRecordQuery): Promise<{ items: StoredOipRecord[], nextCursor: string | null }> {
    const { limit } = query
    const search = parseRecordSearch(query, limit)
    const rows = await this.deps.records.list({ ...search, caller, limit })
    const last = rows.length === limit ? rows[limit - 1] : undefined
    return { items: await this.withPublications(rows.map(toStored), caller), nextCursor: last === undefined ? null : encodeCursor(search.sort, last) }
  }
}
