/**
 * Streaming multipart ingest: the file part goes to the blob store's staging area and through
 * the hashers in the same pass; nothing is held in memory beyond the chunk in flight.
 * Any failure aborts the staged blob, so bad input never leaves anything behind.
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import busboy from 'busboy'
import { AppError, badRequest } from '../../shared/errors.ts'
import { ACCESS_LEVELS, storedMimeType, type AccessLevel, type MediaManifest } from '../../shared/media.ts'
import { LONE_SURROGATE } from '../../shared/record.ts'
import bencode from 'bencode'
import { buildTorrent, infoDict, isTorrentSalt, magnetURI, torrentName, type TorrentTransport } from '../../shared/torrent.ts'
import type { BlobStore, PendingBlob, StagingBlob } from '../storage/blobStore.ts'
import { storageError } from '../storage/fsBlobStore.ts'
import { hashPieces, pieceLengthsFor, type ContentHashes } from './contentHasher.ts'
import type { HashPool } from './hashPool.ts'
import { HashingSink } from './hashingSink.ts'
import { sha1 } from './nodeHashers.ts'

/** Room for the form's other fields and boundaries on top of the file itself. */
const FORM_OVERHEAD = 256 * 1024
const MAX_FIELD_BYTES = 16 * 1024

export interface IngestRequest {
  body: Readable
  contentType: string | undefined
  contentLength: number | undefined
}

export interface UploadFields {
  accessLevel: AccessLevel
  name?: string
  description?: string
  /** Private uploads: the salt of the owner's torrent, when the browser chose it (it seeds the same torrent). */
  torrentSalt?: string
}

export interface Ingested {
  status: 'created' | 'existed'
  /** The manifest this upload published ('existed': the stored file's face, in the database, wins over it). */
  manifest: MediaManifest
  /** Its torrent's bencoded info dict (the face's, for a file the database does not know yet). */
  info: Uint8Array
  /** Name and type as this upload gave them (they may differ from the stored manifest's). */
  upload: { originalName: string, mimeType: string }
  fields: UploadFields
  /** The journal's note of this publish: the record's transaction takes it out (catalog/blobJournal.ts). */
  journalId: number
}

export interface IngestDeps {
  store: BlobStore
  hashPool: HashPool
  maxUploadBytes: number
  /** Trackers and web seed for a new torrent (does not change its infoHash). */
  transportFor: (mediaId: string) => TorrentTransport
  /** Checks the form's fields before anything is published (throws to refuse). */
  authorize?: (fields: UploadFields) => void
  /** Notes in the journal that the file's folder is about to appear, before the rename: its note's id. */
  notePublish: (mediaId: string) => Promise<number>
  /** Checks, before the bytes are read, a file known to have at least this many bytes (throws to refuse). */
  admitSize?: (bytes: number) => void
}

const tooLarge = (max: number): AppError =>
  new AppError(413, 'too_large', `The file is larger than this server accepts (MAX_UPLOAD_BYTES = ${max} bytes). Nothing was stored.`)

const interrupted = (): AppError =>
  badRequest('aborted', 'The upload was interrupted before the end. Nothing was stored; send it again.')

export async function ingestUpload (req: IngestRequest, deps: IngestDeps): Promise<Ingested> {
  if (!req.contentType?.toLowerCase().startsWith('multipart/form-data')) {
    throw new AppError(415, 'unsupported_media_type', 'Send the upload as multipart/form-data with a "file" part and an "access_level" field.')
  }
  if (req.contentLength !== undefined && req.contentLength > deps.maxUploadBytes + FORM_OVERHEAD) {
    throw tooLarge(deps.maxUploadBytes)
  }
  const leastBytes = sizeBounds(undefined, req.contentLength)?.min ?? 0
  if (leastBytes > 0) deps.admitSize?.(leastBytes)

  let parser: busboy.Busboy
  try {
    parser = busboy({
      headers: { 'content-type': req.contentType },
      limits: { fileSize: deps.maxUploadBytes, fieldSize: MAX_FIELD_BYTES, fields: 20, parts: 32 },
      highWaterMark: 1 << 20,
      fileHwm: 1 << 20
    })
  } catch {
    throw badRequest('bad_multipart', 'The multipart/form-data header has no boundary. Let your HTTP client build the form body.')
  }

  const fields: Record<string, string> = {}
  let pending: StagingBlob | undefined
  let hashes: ContentHashes | undefined
  let fileName = ''
  let mimeType = 'application/octet-stream'
  let fileDone: Promise<void> | undefined
  let failure: unknown

  const fail = (err: unknown): void => {
    if (failure !== undefined) return
    failure = err
    req.body.unpipe(parser)
    req.body.resume() // let the rest of the body drain; the response goes out with Connection: close
    // Called from inside busboy's own events: destroying it there breaks its parser state.
    setImmediate(() => parser.destroy())
  }

  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) return fail(badRequest('field_too_long', `The field "${name}" is longer than ${MAX_FIELD_BYTES} bytes.`))
    fields[name] = value
  })

  parser.on('file', (name, file, info) => {
    if (name !== 'file') {
      file.resume()
      return fail(badRequest('unexpected_file', `Unexpected file part "${name}": send the file in a part named "file".`))
    }
    if (fileDone) {
      file.resume()
      return fail(badRequest('too_many_files', 'Send one file per upload. Upload the other file in its own request.'))
    }
    // Errors reach us through the pipeline; a stray one after it settled must not crash the process.
    file.on('error', () => {})
    fileName = info.filename ?? ''
    mimeType = storedMimeType(info.mimeType ?? '')
    const bounds = sizeBounds(fields.size, req.contentLength)
    try {
      if (bounds && bounds.min > leastBytes) deps.admitSize?.(bounds.min)
    } catch (err) {
      file.resume()
      return fail(err)
    }
    const hashing = deps.hashPool.job(pieceLengthsFor(bounds))
    file.on('limit', () => fail(tooLarge(deps.maxUploadBytes)))
    fileDone = (async () => {
      const sink = new HashingSink(hashing)
      // Always finish the hash job, even when staging fails: it hands the worker back to the pool.
      try {
        pending = await deps.store.begin()
        hashing.writeTo(pending.file)
        await pipeline(file, sink)
      } finally {
        // A broken stream stops before the sink has given the job its last bytes.
        await sink.settled()
        hashes = await hashing.finish()
      }
    })()
    fileDone.catch(err => fail(storageError(err)))
  })

  parser.on('error', (err: Error) => fail(badRequest('bad_multipart', `The upload could not be read as multipart/form-data: ${err.message}.`)))

  const parsed = new Promise<void>((resolve) => {
    parser.on('close', resolve)
    // A client that goes away mid-upload: the request stream ends without the closing boundary.
    req.body.on('error', err => fail(err))
    req.body.on('close', () => { if (!req.body.readableEnded) fail(interrupted()) })
  })
  req.body.pipe(parser)
  await parsed
  await fileDone?.catch(() => {})

  try {
    if (failure !== undefined) throw failure
    if (!pending || !hashes) throw badRequest('no_file', 'The form has no "file" part. Attach the file as a part named "file".')
    if (fields.size !== undefined && Number(fields.size) !== hashes.bytes) {
      throw badRequest('size_mismatch', `The "size" field says ${fields.size} bytes but the file has ${hashes.bytes}. Send the whole file.`)
    }
    return await publishUpload({ pending, hashes, fileName, mimeType, fields: uploadFields(fields) }, deps)
  } catch (err) {
    await pending?.abort()
    throw err
  }
}

/** The upload's own fields (form fields, or tus metadata), checked. */
export function uploadFields (raw: Record<string, string | undefined>): UploadFields {
  const accessLevel = raw.access_level as AccessLevel
  if (!ACCESS_LEVELS.includes(accessLevel)) {
    throw badRequest('bad_access_level', `"access_level" must be "public" or "private", got "${raw.access_level ?? ''}".`)
  }
  if (raw.torrent_salt && !isTorrentSalt(raw.torrent_salt)) {
    throw badRequest('bad_torrent_salt', '"torrent_salt" must be 64 lowercase hex characters (32 random bytes), or left out.')
  }
  const name = storableText('name', raw.name)
  const description = storableText('description', raw.description)
  return {
    accessLevel,
    ...(name ? { name } : {}),
    ...(description ? { description } : {}),
    ...(raw.torrent_salt ? { torrentSalt: raw.torrent_salt } : {})
  }
}

/**
 * A text field as the catalogue stores it: PostgreSQL's text cannot hold NUL, and a signed
 * record cannot carry half a surrogate pair, so no catalogue takes either.
 */
export function storableText (key: string, value: string | undefined): string | undefined {
  if (value?.includes('\u0000')) throw badRequest('bad_field', `"${key}" contains a NUL character (\\u0000): remove it and send it again.`)
  if (value !== undefined && LONE_SURROGATE.test(value)) throw badRequest('bad_field', `"${key}" is not valid Unicode text (half of a surrogate pair): send it as UTF-8 text.`)
  return value
}

export interface StagedUpload {
  pending: PendingBlob
  hashes: ContentHashes
  fileName: string
  mimeType: string
  fields: UploadFields
}

/**
 * Every upload ends here, streamed or resumable: check, build the torrent from the pieces hashed
 * on the way in, publish atomically. The caller aborts `pending` when this throws.
 */
export async function publishUpload (staged: StagedUpload, deps: Pick<IngestDeps, 'transportFor' | 'authorize' | 'notePublish'>): Promise<Ingested> {
  const { pending, hashes, fields } = staged
  const size = hashes.bytes
  if (size === 0) throw badRequest('empty_file', 'The file is empty. Choose a file with content.')
  deps.authorize?.(fields)
  const mediaId = hashes.mediaId
  const name = torrentName(staged.fileName)
  // The stored blob's face (manifest and .torrent) is what the public sees once anyone publishes
  // these bytes, so a private upload never writes its name or type there: the owner's name
  // lives only in their record. The first public upload renames the face (Catalog.rename).
  const face = fields.accessLevel === 'private' ? { name: mediaId, mimeType: 'application/octet-stream' } : { name, mimeType: staged.mimeType }
  const pieces = hashes.pieces ?? await hashPieces(pending.read(), size)
  const createdAt = new Date()
  const transport = deps.transportFor(mediaId)
  const input = { name: face.name, length: size, ...pieces }
  const { infoHash, torrentFile } = buildTorrent(input, transport, sha1, createdAt)
  const manifest: MediaManifest = {
    mediaId,
    originalName: face.name,
    mimeType: face.mimeType,
    fileSize: size,
    infoHash,
    magnetURI: magnetURI(infoHash, face.name, transport),
    pieceLength: pieces.pieceLength,
    createdAt: createdAt.toISOString()
  }
  const journalId = await deps.notePublish(mediaId)
  const status = await pending.commit(manifest, torrentFile)
  return {
    journalId,
    status,
    manifest,
    info: bencode.encode(infoDict(input)),
    upload: { originalName: name, mimeType: staged.mimeType },
    fields
  }
}

/** What the request tells about the file's size before the bytes arrive. */
function sizeBounds (sizeField: string | undefined, contentLength: number | undefined): { min: number, max: number } | undefined {
  const declared = Number(sizeField)
  if (sizeField !== undefined && Number.isSafeInteger(declared) && declared > 0) return { min: declared, max: declared }
  if (contentLength !== undefined) return { min: contentLength - FORM_OVERHEAD, max: contentLength }
  return undefined
}
