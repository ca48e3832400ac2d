/**
 * Resumable uploads (the tus 1.0 protocol's model): create with a declared length, append bytes
 * at the current offset in as many requests as it takes, and the last byte publishes the file
 * exactly like a streamed upload. Bytes are written once, into the upload's own file, and
 * hashed as they arrive by a hash job that lives between requests; a checkpoint of the whole
 * pieces is saved now and then, so after a restart only SHA-256 reads the bytes again.
 */
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import { isMediaId, storedMimeType, type UploadResult } from '../../shared/media.ts'
import { pieceLength } from '../../shared/torrent.ts'
import type { Logger } from '../logger.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { storageError } from '../storage/fsBlobStore.ts'
import type { UploadStore } from '../storage/uploadStore.ts'
import type { PieceCheckpoint } from './contentHasher.ts'
import type { HashJob, HashPool } from './hashPool.ts'
import { HashingSink, type HashFlow } from './hashingSink.ts'
import { uploadFields, type StagedUpload, type UploadFields } from './ingest.ts'
import type { Reservation, UploadGate } from './uploadGate.ts'

/** Save the piece checkpoint after this many new bytes (a restart re-hashes at most this much SHA-1). */
const CHECKPOINT_BYTES = 64 * 1024 * 1024
/**
 * How far (MiB) the hasher may trail: a request's worth (the app's tus-js-client sends 16 MiB).
 * With 8, 8 MiB requests (the bench) ran at 0.48–0.54 of the reference; with 16, 0.51–0.61.
 */
const HASH_WINDOW_MIB = 16
/** Unfinished uploads one key may have at once: each holds a folder and, once sent to, a hash job. */
const MAX_OPEN_PER_OWNER = 32
/** Save a pushed-forward expiry at least this often. */
const SAVE_EVERY_MS = 60_000

/** What is kept on disk beside the bytes (info.json). */
export interface UploadInfo {
  id: string
  owner: string
  length: number
  fileName: string
  mimeType: string
  fields: UploadFields
  /** The SHA-256 the client expects; the bytes must match it to be published. */
  sha256?: string
  createdAt: string
  /** Pushed forward by every request that sends bytes. */
  expiresAt: string
  checkpoint?: { pieceLength: number, pieces: string }
  /** Set once published: the answer, for a client whose last response was lost. */
  result?: UploadResult
}

export interface UploadStatus {
  offset: number
  length: number
  expiresAt: string
  result?: UploadResult
}

interface Live {
  info: UploadInfo
  /** Bytes on disk and acknowledged (= the offset); a request in flight may have written more. */
  size: number
  /** The hash job, holding exactly the bytes on disk; none: rebuilt from them at the next request. */
  job?: HashJob
  /** The hash job's flow control, carried over to the next batch (maybe the next request). */
  hashFlow: HashFlow
  busy: boolean
  checkpointed: number
  savedAt: number
  saving?: Promise<void>
  /** Disk room held for the bytes still to come (none once published). */
  reservation?: Reservation
}

export interface ResumableDeps {
  store: UploadStore
  blobs: BlobStore
  hashPool: HashPool
  gate: UploadGate
  maxUploadBytes: number
  expiryMs: number
  /** Record and seed a published upload, as for a streamed one. */
  complete: (staged: StagedUpload, owner: string) => Promise<{ status: 200 | 201, result: UploadResult }>
  /** Refuse up front a file that would take its owner over their quota, counting their unfinished uploads. */
  admit: (owner: string, bytes: number, pending: { bytes: number, files: number }) => Promise<void>
  log: Logger
  now?: () => number
}

/** Carries the server's offset, which the answer gives in Upload-Offset too. */
const conflict = (offset: number): AppError & { offset: number } =>
  Object.assign(new AppError(409, 'offset_mismatch', `The upload is at byte ${offset}. Ask with HEAD for the offset and send from there.`), { offset })

const tooLong = (room: number): AppError =>
  new AppError(413, 'too_large', `This request carries more bytes than the upload has room for (${room} left of the declared Upload-Length). Send only the rest of the file.`)

export class ResumableUploads {
  private readonly uploads = new Map<string, Live>()
  private readonly now: () => number

  constructor (private readonly deps: ResumableDeps) {
    this.now = deps.now ?? Date.now
  }

  /** Take up what earlier runs left, then sweep what expired. */
  async init (): Promise<void> {
    const { uploads, unreadable } = await this.deps.store.init()
    for (const id of unreadable) {
      this.deps.log.warn({ upload: id }, 'removing a resumable upload whose record cannot be read')
      await this.deps.store.remove(id)
    }
    for (const { id, info, size } of uploads) {
      const valid = validInfo(id, info)
      if (!valid) {
        this.deps.log.warn({ upload: id }, 'removing a resumable upload whose record is not valid')
        await this.deps.store.remove(id)
        continue
      }
      if (size === undefined && !valid.result) {
        // Its bytes are gone (a crash while they were being published): the client starts over.
        this.deps.log.warn({ upload: id }, 'removing a resumable upload whose bytes are missing')
        await this.deps.store.remove(id)
        continue
      }
      const received = valid.result ? valid.length : size ?? 0
      // Admitted before the restart: it keeps its room without asking again.
      const reservation = valid.result ? undefined : this.deps.gate.hold(valid.length - received)
      this.uploads.set(id, { info: valid, size: received, hashFlow: {}, busy: false, checkpointed: 0, savedAt: this.now(), ...(reservation ? { reservation } : {}) })
    }
    if (this.uploads.size > 0) this.deps.log.info({ uploads: this.uploads.size }, 'resumable uploads waiting for their bytes')
    await this.sweep()
  }

  async create (owner: string | undefined, length: string | undefined, metadata: string | undefined): Promise<UploadStatus & { id: string }> {
    if (owner === undefined) throw loginRequired()
    if (length === undefined || !/^\d+$/.test(length)) {
      throw badRequest('bad_upload_length', 'Send the file size in the Upload-Length header (a whole number of bytes). Uploads of unknown length are not supported.')
    }
    const size = Number(length)
    if (size === 0) throw badRequest('empty_file', 'The file is empty. Choose a file with content.')
    if (size > this.deps.maxUploadBytes) {
      throw new AppError(413, 'too_large', `The file is larger than this server accepts (MAX_UPLOAD_BYTES = ${this.deps.maxUploadBytes} bytes).`)
    }
    const open = [...this.uploads.values()].filter(u => u.info.owner === owner && !u.info.result)
    if (open.length >= MAX_OPEN_PER_OWNER) {
      throw new AppError(429, 'too_many_open_uploads', `You have ${open.length} unfinished uploads on this server. Finish or end some (DELETE /api/uploads/:id), or wait until they expire, then start this one.`)
    }
    const meta = parseMetadata(metadata)
    const fields = uploadFields(meta)
    if (meta.sha256 !== undefined && !isMediaId(meta.sha256)) throw badRequest('bad_sha256', '"sha256" must be 64 lowercase hex characters, or left out.')
    await this.deps.admit(owner, size, { bytes: open.reduce((sum, u) => sum + u.info.length, 0), files: open.length })
    const reservation = await this.deps.gate.reserve(size)
    const id = randomBytes(16).toString('hex')
    const info: UploadInfo = {
      id,
      owner,
      length: size,
      fileName: meta.filename ?? '',
      mimeType: storedMimeType(meta.filetype ?? ''),
      fields,
      ...(meta.sha256 ? { sha256: meta.sha256 } : {}),
      createdAt: new Date(this.now()).toISOString(),
      expiresAt: this.expiry()
    }
    await this.deps.store.create(id, info).catch(err => {
      reservation.release()
      throw storageError(err)
    })
    this.uploads.set(id, { info, size: 0, hashFlow: {}, busy: false, checkpointed: 0, savedAt: this.now(), reservation })
    return { id, ...this.status(id, owner) }
  }

  status (id: string, caller: string | undefined): UploadStatus {
    const { info, size } = this.get(id, caller)
    return { offset: size, length: info.length, expiresAt: info.expiresAt, ...(info.result ? { result: info.result } : {}) }
  }

  /** Append the body at `offset`; the byte that completes the file publishes it. */
  async append (id: string, caller: string | undefined, offset: number, body: Readable, contentLength?: number): Promise<UploadStatus> {
    const up = this.get(id, caller)
    if (up.busy) throw new AppError(423, 'upload_busy', 'Another request is sending bytes to this upload right now. Wait for it to end, then ask with HEAD for the offset.')
    if (offset !== up.size) throw conflict(up.size)
    if (up.info.result) return this.status(id, caller)
    const room = up.info.length - up.size
    if (contentLength !== undefined && contentLength > room) throw tooLong(room)
    up.busy = true
    let release: (() => void) | undefined
    try {
      release = await this.deps.gate.enter({ reserved: true })
      await this.receive(up, body, room)
      up.info.expiresAt = this.expiry()
      if (up.size === up.info.length) await this.finish(up)
      // Between requests (maybe for hours) the job keeps its state in the worker and no batch.
      else this.saveSoon(up)
      return this.status(id, caller)
    } finally {
      release?.()
      up.busy = false
    }
  }

  async terminate (id: string, caller: string | undefined): Promise<void> {
    const up = this.get(id, caller)
    if (up.busy) throw new AppError(423, 'upload_busy', 'Bytes are being sent to this upload right now. Stop that request first.')
    await this.drop(up)
  }

  /** Delete uploads past their expiry; returns how many. */
  async sweep (): Promise<number> {
    let swept = 0
    for (const up of this.uploads.values()) {
      if (up.busy || Date.parse(up.info.expiresAt) > this.now()) continue
      await this.drop(up)
      swept++
    }
    if (swept > 0) this.deps.log.info({ swept }, 'expired resumable uploads removed')
    return swept
  }

  /** Let go of the hash jobs (the bytes and checkpoints stay for the next run). */
  close (): void {
    for (const up of this.uploads.values()) up.job?.drop()
  }

  private get (id: string, caller: string | undefined): Live {
    const up = this.uploads.get(id)
    // Someone else's upload looks exactly like a missing one.
    if (!up || caller === undefined || up.info.owner !== caller) throw notFound('No such upload. It may have expired or been finished; start a new upload.')
    return up
  }

  private expiry (): string {
    return new Date(this.now() + this.deps.expiryMs).toISOString()
  }

  /**
   * Stream the body through the hash job, which writes it to disk as it hashes. What it took
   * counts once written; after a failed write the job no longer matches the disk, so it is rebuilt.
   */
  private async receive (up: Live, body: Readable, room: number): Promise<void> {
    const job = await this.hasher(up)
    const file = await this.deps.store.append(up.info.id)
    let taken = 0
    const sink = new HashingSink(job, {
      check: bytes => {
        if (taken + bytes > room) throw tooLong(room)
        taken += bytes
      },
      flow: up.hashFlow
    })
    job.writeTo(file)
    try {
      await pipeline(body, sink)
      up.size += taken
    } catch (err) {
      // The body broke off, or a write failed: keep what the job took if it all reached the disk.
      await sink.settled()
      await job.flush().then(() => { up.size += taken }, () => this.forgetHasher(up))
      throw await this.recover(up, err)
    } finally {
      job.writeTo(undefined)
      await file.close()
      up.reservation?.resize(up.info.length - up.size)
      await this.deps.store.acknowledge(up.info.id, up.size)
    }
  }

  /** After a failed write: keep exactly the bytes known good, so the upload stays resumable. */
  private async recover (up: Live, err: unknown): Promise<unknown> {
    const onDisk = await this.deps.store.size(up.info.id).catch(() => up.size)
    if (onDisk !== up.size) await this.deps.store.truncate(up.info.id, up.size)
    if (err instanceof AppError) return err
    const mapped = storageError(err)
    if (mapped !== err) return mapped
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || (err as Error).message === 'aborted') {
      return badRequest('aborted', `The connection closed at byte ${up.size}. Nothing is lost: ask with HEAD for the offset and send the rest.`)
    }
    return err
  }

  /** The upload's hash job, rebuilt from its bytes on disk when it does not match them. */
  private async hasher (up: Live): Promise<HashJob> {
    if (up.job) return up.job
    this.forgetHasher(up)
    const len = pieceLength(up.info.length)
    const cp = up.info.checkpoint
    const resume: PieceCheckpoint | undefined = cp && cp.pieceLength === len && cp.pieces.length > 0
      ? { pieceLength: len, pieces: Buffer.from(cp.pieces, 'base64') }
      : undefined
    const usable = resume && resume.pieces.length / 20 * len <= up.size ? resume : undefined
    const job = this.deps.hashPool.job([len], { ...(usable ? { resume: usable } : {}), window: HASH_WINDOW_MIB })
    try {
      if (up.size > 0) {
        this.deps.log.info({ upload: up.info.id, bytes: up.size, piecesKnown: (usable?.pieces.length ?? 0) / 20 }, 'resuming an upload: hashing its bytes so far')
        for await (const chunk of this.deps.store.read(up.info.id, up.size)) await job.update(chunk as Buffer)
      }
    } catch (err) {
      job.drop()
      throw err
    }
    up.job = job
    return job
  }

  private forgetHasher (up: Live): void {
    this.detachHasher(up)?.drop()
  }

  /** Take the job out of the upload: the next request rebuilds one from the bytes on disk. */
  private detachHasher (up: Live): HashJob | undefined {
    const job = up.job
    up.job = undefined
    up.hashFlow = {}
    return job
  }

  /**
   * Save the record in the background, not on every request (its fsyncs would halve the upload
   * speed): with a checkpoint of the whole pieces once enough new bytes came in, or else when
   * the saved expiry is a minute old. The offset itself is the size of the file.
   */
  private saveSoon (up: Live): void {
    const checkpointDue = up.job !== undefined && up.size - up.checkpointed >= CHECKPOINT_BYTES
    if (up.saving || (!checkpointDue && this.now() - up.savedAt < SAVE_EVERY_MS)) return
    const job = up.job
    up.saving = (async () => {
      up.savedAt = this.now()
      const cp = checkpointDue ? await job!.checkpoint() : undefined
      if (cp) {
        // The bytes the pieces name must be on disk before the record says so.
        await this.deps.store.sync(up.info.id)
        up.info.checkpoint = { pieceLength: cp.pieceLength, pieces: Buffer.from(cp.pieces).toString('base64') }
        up.checkpointed = cp.pieces.length / 20 * cp.pieceLength
      }
      await this.deps.store.writeInfo(up.info.id, up.info)
    })().catch(err => {
      this.deps.log.warn({ upload: up.info.id, err: (err as Error).message }, 'could not save the state of an upload')
    }).finally(() => { up.saving = undefined })
  }

  /** The last byte is in: check, publish like any upload, keep the answer until expiry. */
  private async finish (up: Live): Promise<void> {
    const { info } = up
    await up.saving
    await this.hasher(up)
    // The job ends here: a failure from now on rebuilds it from the bytes on disk.
    const hashes = await this.detachHasher(up)!.finish()
    if (info.sha256 && hashes.mediaId !== info.sha256) {
      await this.drop(up)
      throw new AppError(422, 'checksum_mismatch', `The bytes received hash to ${hashes.mediaId}, not the sha256 given when the upload was created. The upload was discarded; upload the file again.`)
    }
    // Flushed here, in the upload's own folder: once adopted, the bytes sit in the blob store's
    // staging area (emptied at start) only for the few milliseconds the publish takes.
    await this.deps.store.sync(info.id)
    const pending = await this.deps.blobs.adopt(this.deps.store.dataPath(info.id))
    let result: UploadResult
    try {
      ({ result } = await this.deps.complete({ pending, hashes, fileName: info.fileName, mimeType: info.mimeType, fields: info.fields }, info.owner))
    } catch (err) {
      // Not published: the bytes went back and an empty PATCH finishes it later. Bytes that were
      // already stored were dropped as a duplicate; then this upload is over and must start again.
      if (!await this.deps.store.size(info.id).then(() => true, () => false)) await this.drop(up)
      throw err
    }
    info.result = result
    up.reservation?.release()
    delete up.reservation
    delete info.checkpoint
    await this.deps.store.writeInfo(info.id, info)
  }

  private async drop (up: Live): Promise<void> {
    this.forgetHasher(up)
    up.reservation?.release()
    this.uploads.delete(up.info.id)
    await this.deps.store.remove(up.info.id)
  }
}

/**
 * Upload-Metadata: comma-separated "key base64value" pairs (the value may be left out).
 * Keys this server reads: filename, filetype, access_level, name, description, torrent_salt, sha256.
 */
export function parseMetadata (header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (header === undefined || header.trim() === '') return out
  for (const pair of header.split(',')) {
    const [key, value, extra] = pair.trim().split(' ')
    if (!key || extra !== undefined || !/^[\x21-\x7e]+$/.test(key) || (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) {
      throw badRequest('bad_metadata', 'Upload-Metadata must be comma-separated "key base64value" pairs, e.g. "filename aGVsbG8udHh0,access_level cHVibGlj".')
    }
    if (key in out) throw badRequest('bad_metadata', `Upload-Metadata names "${key}" twice.`)
    out[key] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8')
  }
  return out
}

/** An info.json from disk, checked (rule: validate at the boundary). */
function validInfo (id: string, raw: unknown): UploadInfo | undefined {
  const info = raw as Partial<UploadInfo> | null
  if (!info || info.id !== id || typeof info.owner !== 'string' || !Number.isSafeInteger(info.length) ||
      typeof info.fileName !== 'string' || typeof info.mimeType !== 'string' || typeof info.expiresAt !== 'string' ||
      typeof info.fields !== 'object' || info.fields === null) return undefined
  try {
    uploadFields({ access_level: info.fields.accessLevel, torrent_salt: info.fields.torrentSalt })
  } catch {
    return undefined
  }
  return info as UploadInfo
}
