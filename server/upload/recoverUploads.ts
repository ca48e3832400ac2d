/**
 * At start, before serving: make the upload store and the database agree. Records an older
 * version kept beside the bytes are imported once (an upload begun before the upgrade can still
 * finish); a place in the store that no unfinished upload names is removed (a crash between
 * the two writes, or a published upload's leftover; the sweep does this again now and then); an
 * upload whose bytes are gone is ended (its client gets 404 and starts over); bytes a crash left
 * past the acknowledged offset are cut back. Costs one look per upload in the store, none per
 * stored file. A store other nodes share is not compared upload by upload (another node may be
 * writing one): each request puts right what it finds there.
 */
import type { UploadResult } from '../../shared/media.ts'
import type { UploadRepository } from '../catalog/uploadRepository.ts'
import type { Logger } from '../logger.ts'
import type { LegacyUploadRecord, UploadStore } from '../storage/uploadStore.ts'
import { uploadFields } from './ingest.ts'

const BATCH = 500

export async function recoverUploads (store: UploadStore, uploads: UploadRepository, log: Logger): Promise<void> {
  await store.init()
  await collectStrays(store, uploads, log)
  if (store.shared) return
  for (let after = ''; ;) {
    const page = await uploads.unfinished(BATCH, after)
    if (page.length === 0) break
    for (const { id, size } of page) {
      const stored = await store.size(id).catch(() => undefined)
      if (stored === undefined) {
        log.warn({ upload: id }, 'removing a resumable upload whose bytes are missing')
        await uploads.remove(id)
        await store.remove(id)
      } else if (stored > size) {
        await store.truncate(id, size)
      } else if (stored < size) {
        // Acknowledged bytes that never reached the disk (the machine, not just the server, went down).
        log.warn({ upload: id, acknowledged: size, stored }, 'a resumable upload continues from the bytes it has')
        await uploads.acknowledge(id, stored)
      }
    }
    after = page.at(-1)!.id
  }
}

/**
 * Remove every place in the store that no unfinished upload names (importing an older version's
 * record first, so its upload is named). The row is written before its place and taken out
 * before it, so a place being made or taken out on another node is never removed here early.
 */
export async function collectStrays (store: UploadStore, uploads: UploadRepository, log: Logger): Promise<void> {
  let batch: string[] = []
  const removeStray = async (): Promise<void> => {
    const waiting = await uploads.unfinishedOf(batch)
    for (const id of batch.filter(id => !waiting.has(id))) await store.remove(id)
    batch = []
  }
  for await (const { id, legacy } of store.list()) {
    if (legacy) await importLegacy(store, uploads, id, legacy, log)
    batch.push(id)
    if (batch.length >= BATCH) await removeStray()
  }
  await removeStray()
}

/** An older version's info.json and offset: into the database, then off the disk (the bytes stay). */
async function importLegacy (store: UploadStore, uploads: UploadRepository, id: string, legacy: LegacyUploadRecord, log: Logger): Promise<void> {
  const info = validLegacyInfo(id, legacy.info)
  if (!info) {
    log.warn({ upload: id }, 'removing a resumable upload whose record cannot be read')
    await store.remove(id)
    return
  }
  const createdAt = Date.parse(info.createdAt ?? '')
  const cp = info.checkpoint
  await uploads.import({
    id,
    owner: info.owner,
    length: info.length,
    // Checked against the bytes right after, as every upload's offset is at start.
    size: info.result ? info.length : legacy.acknowledged ?? await store.size(id).catch(() => 0),
    fileName: info.fileName,
    mimeType: info.mimeType,
    fields: info.fields,
    ...(info.sha256 ? { sha256: info.sha256 } : {}),
    createdAt: Number.isFinite(createdAt) ? createdAt : Date.now(),
    expiresAt: Date.parse(info.expiresAt),
    ...(cp ? { checkpoint: { pieceLength: cp.pieceLength, pieces: Buffer.from(cp.pieces, 'base64') } } : {}),
    ...(info.result ? { result: info.result } : {})
  })
  await store.removeLegacy(id)
  log.info({ upload: id }, 'imported a resumable upload from an older version')
}

/** info.json as versions before the catalogue wrote it. */
interface LegacyInfo {
  id: string
  owner: string
  length: number
  fileName: string
  mimeType: string
  fields: ReturnType<typeof uploadFields>
  sha256?: string
  createdAt?: string
  expiresAt: string
  checkpoint?: { pieceLength: number, pieces: string }
  result?: UploadResult
}

/** Checked (rule: validate at the boundary). */
function validLegacyInfo (id: string, raw: unknown): LegacyInfo | undefined {
  const info = raw as Partial<LegacyInfo> | null
  if (!info || info.id !== id || typeof info.owner !== 'string' || !Number.isSafeInteger(info.length) || info.length! <= 0 ||
      typeof info.fileName !== 'string' || typeof info.mimeType !== 'string' || !Number.isFinite(Date.parse(info.expiresAt ?? '')) ||
      typeof info.fields !== 'object' || info.fields === null) return undefined
  if (info.checkpoint !== undefined && !(Number.isSafeInteger(info.checkpoint?.pieceLength) && typeof info.checkpoint?.pieces === 'string')) return undefined
  try {
    const { accessLevel, name, description, torrentSalt } = info.fields
    const fields = uploadFields({ access_level: accessLevel, name, description, torrent_salt: torrentSalt })
    return { ...info, fields } as LegacyInfo
  } catch {
    return undefined
  }
}
