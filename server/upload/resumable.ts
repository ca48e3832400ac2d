/**
 * Resumable uploads (the tus 1.0 protocol's model): create with a declared length, append bytes
 * at the current offset in as many requests as it takes, and the last byte publishes the file
 * exactly like a streamed upload. Bytes are written once, into the upload's own place in the
 * upload store, and hashed as they arrive by a hash job that lives between requests; a
 * checkpoint of the whole pieces is saved now and then, so after a restart only SHA-256 reads
 * the bytes again. Everything else about an upload is its row in the database (one change per
 * request that sends bytes), so memory holds only the hash jobs of uploads being sent to.
 *
 * With an upload store that several nodes share (a bucket), any node takes the next request:
 * each request saves the hashing's whole state with the offset it acknowledges, and the next,
 * wherever it lands, goes on from that state without reading a byte again. A request holds the
 * upload through its row (a lease, renewed while it runs), so two nodes never write one upload.
 */
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import { isMediaId, storedMimeType, type UploadResult } from '../../shared/media.ts'
import { pieceLength } from '../../shared/torrent.ts'
import type { UploadRepository, UploadRow } from '../catalog/uploadRepository.ts'
import type { Logger } from '../logger.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import { storageError } from '../storage/fsBlobStore.ts'
import type { UploadStore } from '../storage/uploadStore.ts'
import type { HashJob, HashPool } from './hashPool.ts'
import { HashingSink, type HashFlow } from './hashingSink.ts'
import { storableText, uploadFields, type StagedUpload } from './ingest.ts'
import { collectStrays, recoverUploads } from './recoverUploads.ts'
import type { UploadGate } from './uploadGate.ts'

/** Save the piece checkpoint after this many new bytes (a restart re-hashes at most this much SHA-1). */
const CHECKPOINT_BYTES = 64 * 1024 * 1024
/**
 * How far (MiB) the hasher may trail: a request's worth (the app's tus-js-client sends 16 MiB).
 * With 8, 8 MiB requests (the bench) ran at 0.48–0.54 of the reference; with 16, 0.51–0.61.
 */
const HASH_WINDOW_MIB = 16
/** Unfinished uploads one key may have at once: each holds a folder and, once sent to, a hash job. */
const MAX_OPEN_PER_OWNER = 32
/**
 * Hash jobs kept (a few KiB each, in a worker, between requests): those of the uploads sent to
 * most recently. An upload whose job was let go re-reads its bytes at its next request.
 */
const MAX_RESTING_JOBS = 256
/**
 * How long a request's hold on an upload lasts unless renewed (every third of it while the
 * request runs): after a node dies mid-request, its upload takes requests again after this.
 */
const HOLD_MS = 10_000

export interface UploadStatus {
  offset: number
  length: number
  expiresAt: string
  result?: UploadResult
}

/** What this process keeps of an upload it received bytes for: its hash job, between requests too. */
interface Live {
  id: string
  /** Bytes the job holds (= the offset when it was last used); a row at another offset makes it stale. */
  size: number
  /** None: rebuilt from the bytes in the store at the next request. */
  job?: HashJob
  /** The hash job's flow control, carried over to the next batch (maybe the next request). */
  hashFlow: HashFlow
  /** Bytes the saved piece checkpoint covers. */
  checkpointed: number
  saving?: Promise<void>
}

export interface ResumableDeps {
  store: UploadStore
  uploads: UploadRepository
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
  /** Hash jobs kept between requests (MAX_RESTING_JOBS; tests lower it). */
  restingJobs?: number
  now?: () => number
}

/** Carries the server's offset, which the answer gives in Upload-Offset too. */
const conflict = (offset: number): AppError & { offset: number } =>
  Object.assign(new AppError(409, 'offset_mismatch', `The upload is at byte ${offset}. Ask with HEAD for the offset and send from there.`), { offset })

const tooLong = (room: number): AppError =>
  new AppError(413, 'too_large', `This request carries more bytes than the upload has room for (${room} left of the declared Upload-Length). Send only the rest of the file.`)

const tooManyOpen = (open: number): AppError =>
  new AppError(429, 'too_many_open_uploads', `You have ${open} unfinished uploads on this server. Finish or end some (DELETE /api/uploads/:id), or wait until they expire, then start this one.`)

const SENDING = 'Another request is sending bytes to this upload right now. Wait for it to end, then ask with HEAD for the offset.'

const statusOf = (row: UploadRow): UploadStatus =>
  ({ offset: row.size, length: row.length, expiresAt: new Date(row.expiresAt).toISOString(), ...(row.result ? { result: row.result } : {}) })

export class ResumableUploads {
  /** Uploads a request is changing right now (sending bytes, ending, expiring): one at a time each. */
  private readonly busy = new Set<string>()
  /** Hash jobs by upload, least recently used first: at most MAX_RESTING_JOBS, more only while more are busy. */
  private readonly live = new Map<string, Live>()
  private readonly now: () => number

  constructor (private readonly deps: ResumableDeps) {
    this.now = deps.now ?? Date.now
  }

  /** Take up what earlier runs left, hold room for the bytes still to come, then sweep what expired. */
  async init (): Promise<void> {
    await recoverUploads(this.deps.store, this.deps.uploads, this.deps.log)
    const waiting = await this.deps.uploads.waiting()
    // Admitted before the restart: they keep their room without asking again.
    this.deps.gate.hold(waiting.bytes)
    if (waiting.files > 0) this.deps.log.info({ uploads: waiting.files }, 'resumable uploads waiting for their bytes')
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
    const pending = await this.deps.uploads.openUse(owner)
    if (pending.files >= MAX_OPEN_PER_OWNER) throw tooManyOpen(pending.files)
    const meta = parseMetadata(metadata)
    const fields = uploadFields(meta)
    if (meta.sha256 !== undefined && !isMediaId(meta.sha256)) throw badRequest('bad_sha256', '"sha256" must be 64 lowercase hex characters, or left out.')
    await this.deps.admit(owner, size, pending)
    await this.deps.gate.reserve(size)
    const row: UploadRow = {
      id: randomBytes(16).toString('hex'),
      owner,
      length: size,
      size: 0,
      fileName: storableText('filename', meta.filename) ?? '',
      mimeType: storedMimeType(meta.filetype ?? ''),
      fields,
      ...(meta.sha256 ? { sha256: meta.sha256 } : {}),
      createdAt: this.now(),
      expiresAt: this.expiry()
    }
    try {
      // The count above let it through; this one, in the row's transaction, holds.
      const { created, open } = await this.deps.uploads.create(row, MAX_OPEN_PER_OWNER)
      if (!created) throw tooManyOpen(open)
      // Row first: a crash before the bytes' place exists leaves a row without bytes, ended at start.
      await this.deps.store.create(row.id).catch(async err => {
        await this.deps.uploads.remove(row.id)
        throw storageError(err)
      })
    } catch (err) {
      this.deps.gate.release(size)
      throw err
    }
    return { id: row.id, ...statusOf(row) }
  }

  async status (id: string, caller: string | undefined): Promise<UploadStatus> {
    return statusOf(await this.owned(id, caller))
  }

  /** Append the body at `offset`; the byte that completes the file publishes it. */
  async append (id: string, caller: string | undefined, offset: number, body: Readable, contentLength?: number): Promise<UploadStatus> {
    const held = await this.hold(id, caller, SENDING)
    const { row } = held
    try {
      if (offset !== row.size) throw conflict(row.size)
      if (row.result) return statusOf(row)
      const room = row.length - row.size
      if (contentLength !== undefined && contentLength > room) throw tooLong(room)
      const release = await this.deps.gate.enter({ reserved: true })
      try {
        const up = this.liveFor(row)
        await this.receive(up, row, held.writer, body, room)
        if (row.size === row.length) await this.finish(up, row)
        // Between requests (maybe for hours) the job keeps its state in the worker and no batch.
        else if (!this.deps.store.shared) this.checkpointSoon(up)
        return statusOf(row)
      } finally {
        release()
      }
    } finally {
      await held.letGo()
    }
  }

  async terminate (id: string, caller: string | undefined): Promise<void> {
    const held = await this.hold(id, caller, 'Bytes are being sent to this upload right now. Stop that request first.')
    try {
      await this.end(id)
    } finally {
      await held.letGo()
    }
  }

  /** Delete uploads past their expiry, and bytes no upload holds; returns how many uploads expired. */
  async sweep (): Promise<number> {
    await collectStrays(this.deps.store, this.deps.uploads, this.deps.log)
    const now = this.now()
    let swept = 0
    for (let after: { expiresAt: number, id: string } | undefined; ;) {
      const page = await this.deps.uploads.expired(now, 100, after)
      if (page.length === 0) break
      for (const { id } of page) {
        if (this.busy.has(id)) continue
        this.busy.add(id)
        try {
          if (await this.end(id, now)) swept++
        } finally {
          this.busy.delete(id)
        }
      }
      after = page.at(-1)
    }
    if (swept > 0) this.deps.log.info({ swept }, 'expired resumable uploads removed')
    return swept
  }

  /** Let go of the hash jobs (the bytes and checkpoints stay for the next run). */
  close (): void {
    for (const up of this.live.values()) up.job?.drop()
    this.live.clear()
  }

  /** The caller's upload; someone else's looks exactly like a missing one. */
  private async owned (id: string, caller: string | undefined): Promise<UploadRow> {
    const row = caller === undefined ? undefined : await this.deps.uploads.get(id)
    if (!row || row.owner !== caller) throw notFound('No such upload. It may have expired or been finished; start a new upload.')
    return row
  }

  /**
   * The caller's upload, as it is once no other request changes it: held in this process
   * (`busy`) and, where other nodes share the upload store, in its row for every node (a lease
   * renewed while the request runs), until letGo. `writer` names the row's hold.
   */
  private async hold (id: string, caller: string | undefined, busyMessage: string): Promise<{ row: UploadRow, writer?: string, letGo: () => Promise<void> }> {
    await this.owned(id, caller)
    if (this.busy.has(id)) throw new AppError(423, 'upload_busy', busyMessage)
    this.busy.add(id)
    const writer = this.deps.store.shared ? randomBytes(12).toString('hex') : undefined
    const claim = async (): Promise<boolean> => writer === undefined || await this.deps.uploads.claim(id, writer, this.now() + HOLD_MS, this.now())
    let renewing: NodeJS.Timeout | undefined
    const letGo = async (): Promise<void> => {
      clearInterval(renewing)
      this.busy.delete(id)
      // Not let go (the database is away): it lapses after HOLD_MS.
      if (writer !== undefined) await this.deps.uploads.letGo(id, writer).catch(() => {})
    }
    try {
      if (!await claim()) throw new AppError(423, 'upload_busy', busyMessage)
      if (writer !== undefined) {
        renewing = setInterval(() => { claim().catch(() => {}) }, HOLD_MS / 3)
        renewing.unref()
      }
      // Read again: the request that was busy before may have moved the offset meanwhile.
      return { row: await this.owned(id, caller), writer, letGo }
    } catch (err) {
      await letGo()
      throw err
    }
  }

  private expiry (): number {
    return this.now() + this.deps.expiryMs
  }

  /** This upload's hash job and its state, most recently used now; the oldest resting ones are let go. */
  private liveFor (row: UploadRow): Live {
    let up = this.live.get(row.id)
    this.live.delete(row.id)
    if (up && up.size !== row.size) {
      // The bytes moved on without this job (after a failed write, or on another server).
      up.job?.drop()
      up = undefined
    }
    up ??= { id: row.id, size: row.size, hashFlow: {}, checkpointed: 0 }
    this.live.set(row.id, up)
    for (const [id, old] of this.live) {
      if (this.live.size <= (this.deps.restingJobs ?? MAX_RESTING_JOBS)) break
      if (this.busy.has(id)) continue
      old.job?.drop()
      this.live.delete(id)
    }
    return up
  }

  /** Let go of the upload's hash job: it ended, or its bytes are published. */
  private forget (id: string): void {
    this.live.get(id)?.job?.drop()
    this.live.delete(id)
  }

  /**
   * Stream the body through the hash job, which writes it to the store as it hashes. What it took
   * counts once written (the store's close: a bucket's last part is PUT then); after a failed
   * write the job no longer matches the store, so it is rebuilt. Whatever happened, the bytes
   * known good are acknowledged: one row change, with the hashing's state after them where
   * another node may take the next request (`writer` holds it there: unless it no longer does).
   */
  private async receive (up: Live, row: UploadRow, writer: string | undefined, body: Readable, room: number): Promise<void> {
    const job = await this.hasher(up, row)
    const file = await this.deps.store.append(row.id, row.size)
    let taken = 0
    const sink = new HashingSink(job, {
      check: bytes => {
        if (taken + bytes > room) throw tooLong(room)
        taken += bytes
      },
      flow: up.hashFlow
    })
    job.writeTo(file)
    let kept = true
    try {
      await pipeline(body, sink)
      await file.close()
      up.size += taken
    } catch (err) {
      // The body broke off, or a write failed: keep what the job took if it all reached the store.
      await sink.settled()
      await job.flush().then(async () => { await file.close() }).then(() => { up.size += taken }, () => this.detachHasher(up)?.drop())
      throw await this.recover(up, err)
    } finally {
      job.writeTo(undefined)
      // Closed above on every path; a failure there is handled there.
      await file.close().catch(() => {})
      // The disk counts the bytes that arrived now, so their room is not reserved twice.
      this.deps.gate.release(up.size - row.size)
      row.size = up.size
      row.expiresAt = this.expiry()
      const state = writer !== undefined ? await up.job?.state().catch(() => undefined) : undefined
      kept = await this.deps.uploads.acknowledge(row.id, row.size, row.expiresAt, writer === undefined ? undefined : { writer, ...(state?.bytes === row.size ? { state } : {}) })
    }
    if (!kept) {
      // Its hold lapsed (this node stalled) and another request has the upload now.
      this.detachHasher(up)?.drop()
      throw new AppError(409, 'upload_taken_over', 'This request held the upload too long and another one took it over. Ask with HEAD for the offset and send from there.')
    }
  }

  /** After a failed write: keep exactly the bytes known good, so the upload stays resumable. */
  private async recover (up: Live, err: unknown): Promise<unknown> {
    const stored = await this.deps.store.size(up.id).catch(() => up.size)
    if (stored < up.size) {
      // Bytes the job took that the store does not have: they do not count.
      up.size = stored
      this.detachHasher(up)?.drop()
    } else if (stored > up.size) {
      await this.deps.store.truncate(up.id, up.size)
    }
    if (err instanceof AppError) return err
    const mapped = storageError(err)
    if (mapped !== err) return mapped
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || (err as Error).message === 'aborted') {
      return badRequest('aborted', `The connection closed at byte ${up.size}. Nothing is lost: ask with HEAD for the offset and send the rest.`)
    }
    return err
  }

  /**
   * The upload's hash job. When it has none: from the state the last request saved, where
   * uploads move between nodes; else rebuilt from its bytes in the store (and its checkpoint).
   */
  private async hasher (up: Live, row: UploadRow): Promise<HashJob> {
    if (up.job) return up.job
    this.detachHasher(up)
    const len = pieceLength(row.length)
    const { shared } = this.deps.store
    const from = shared && up.size > 0 ? await this.deps.uploads.hashState(row.id) : undefined
    if (from?.bytes === up.size && from.pieceLength === len) {
      up.job = this.deps.hashPool.job([len], { savable: { from }, window: HASH_WINDOW_MIB })
      return up.job
    }
    const cp = shared ? undefined : await this.deps.uploads.checkpoint(row.id)
    const usable = cp && cp.pieceLength === len && cp.pieces.length > 0 && cp.pieces.length / 20 * len <= up.size ? cp : undefined
    const job = this.deps.hashPool.job([len], { ...(usable ? { resume: usable } : {}), ...(shared ? { savable: {} } : {}), window: HASH_WINDOW_MIB })
    try {
      if (up.size > 0) {
        this.deps.log.info({ upload: up.id, bytes: up.size, piecesKnown: (usable?.pieces.length ?? 0) / 20 }, 'resuming an upload: hashing its bytes so far')
        for await (const chunk of this.deps.store.read(up.id, up.size)) await job.update(chunk as Buffer)
      }
    } catch (err) {
      job.drop()
      throw err
    }
    up.job = job
    up.checkpointed = usable ? usable.pieces.length / 20 * len : 0
    return job
  }

  /** Take the job out of the upload: the next request rebuilds one from the bytes in the store. */
  private detachHasher (up: Live): HashJob | undefined {
    const job = up.job
    up.job = undefined
    up.hashFlow = {}
    return job
  }

  /**
   * Save a checkpoint of the whole pieces in the background once enough new bytes came in (its
   * flush of the bytes would halve the upload speed if every request waited for it).
   */
  private checkpointSoon (up: Live): void {
    const job = up.job
    if (up.saving || !job || up.size - up.checkpointed < CHECKPOINT_BYTES) return
    up.saving = (async () => {
      const cp = await job.checkpoint()
      if (!cp) return
      // The bytes the pieces name must be on disk before the row says so.
      await this.deps.store.sync(up.id)
      await this.deps.uploads.saveCheckpoint(up.id, cp)
      up.checkpointed = cp.pieces.length / 20 * cp.pieceLength
    })().catch(err => {
      this.deps.log.warn({ upload: up.id, err: (err as Error).message }, 'could not save the piece checkpoint of an upload')
    }).finally(() => { up.saving = undefined })
  }

  /** The last byte is in: check, publish like any upload, keep the answer until expiry. */
  private async finish (up: Live, row: UploadRow): Promise<void> {
    await up.saving
    await this.hasher(up, row)
    // The job ends here: a failure from now on rebuilds it from the bytes on disk.
    const hashes = await this.detachHasher(up)!.finish()
    if (row.sha256 && hashes.mediaId !== row.sha256) {
      await this.end(row.id)
      throw new AppError(422, 'checksum_mismatch', `The bytes received hash to ${hashes.mediaId}, not the sha256 given when the upload was created. The upload was discarded; upload the file again.`)
    }
    // Flushed first, in the upload's own place: once handed over, the bytes sit in the blob
    // store's staging area (emptied at start) only for the moment the publish takes.
    const pending = await this.deps.store.handOver(row.id, this.deps.blobs)
    try {
      ({ result: row.result } = await this.deps.complete({ pending, hashes, fileName: row.fileName, mimeType: row.mimeType, fields: row.fields }, row.owner))
    } catch (err) {
      // Not published: the bytes went back and an empty PATCH finishes it later. Bytes that were
      // already stored were dropped as a duplicate; then this upload is over and must start again.
      if (!await this.deps.store.size(row.id).then(() => true, () => false)) await this.end(row.id)
      throw err
    }
    row.expiresAt = this.expiry()
    await this.deps.uploads.finish(row.id, row.result, row.expiresAt)
    this.forget(row.id)
    // The bytes are the blob store's now: only the answer is kept (a crash before this leaves a place removed at start).
    await this.deps.store.remove(row.id)
  }

  /** Take the upload out (unless `expiredAt` is given and it has not expired by then); false when it was gone. */
  private async end (id: string, expiredAt?: number): Promise<boolean> {
    const removed = await this.deps.uploads.remove(id, expiredAt)
    if (!removed) return false
    this.forget(id)
    if (!removed.finished) this.deps.gate.release(removed.length - removed.size)
    await this.deps.store.remove(id)
    return true
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
