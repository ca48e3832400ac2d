/**
 * Resumable uploads on the local filesystem: MEDIA_DIR/.uploads/<id>/data. Same disk as the
 * blobs, so a finished upload is published by a rename, never a copy. Versions before the
 * catalogue kept info.json and offset beside the data; list() reads them for the import.
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { notFound } from '../../shared/errors.ts'
import type { BlobStore, PendingBlob } from './blobStore.ts'
import { DirectFile } from './directFile.ts'
import type { Appender, LegacyUploadRecord, StoredUpload, UploadStore } from './uploadStore.ts'

const UPLOADS = '.uploads'
const ID = /^[0-9a-f]{32}$/
const LEGACY_INFO = 'info.json'
const LEGACY_OFFSET = 'offset'

export class FsUploadStore implements UploadStore {
  /** This node's own disk: set right at start (recoverUploads). */
  readonly shared = false
  private readonly root: string

  constructor (mediaDir: string) {
    this.root = path.join(mediaDir, UPLOADS)
  }

  private dir (id: string): string {
    // The one place upload ids become paths.
    if (!ID.test(id)) throw notFound('No such upload. It may have expired or been finished; start a new upload.')
    return path.join(this.root, id)
  }

  dataPath (id: string): string {
    return path.join(this.dir(id), 'data')
  }

  async init (): Promise<void> {
    await fs.mkdir(this.root, { recursive: true })
  }

  async * list (): AsyncIterable<StoredUpload> {
    const dir = await fs.opendir(this.root)
    for await (const entry of dir) {
      if (!entry.isDirectory() || !ID.test(entry.name)) continue
      const legacy = await this.legacyRecord(entry.name)
      yield { id: entry.name, ...(legacy ? { legacy } : {}) }
    }
  }

  private async legacyRecord (id: string): Promise<LegacyUploadRecord | undefined> {
    const text = await fs.readFile(path.join(this.dir(id), LEGACY_INFO), 'utf8').catch(err => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      return ''
    })
    if (text === undefined) return undefined
    let info: unknown
    try { info = JSON.parse(text) } catch {}
    // Kept as fixed-width text; uploads from before offsets were kept have none (all their bytes count).
    const acknowledged = Number((await fs.readFile(path.join(this.dir(id), LEGACY_OFFSET), 'utf8').catch(() => '')).trim() || NaN)
    return { info, ...(Number.isSafeInteger(acknowledged) ? { acknowledged } : {}) }
  }

  async removeLegacy (id: string): Promise<void> {
    await fs.rm(path.join(this.dir(id), LEGACY_INFO), { force: true })
    await fs.rm(path.join(this.dir(id), LEGACY_OFFSET), { force: true })
  }

  async create (id: string): Promise<void> {
    await fs.mkdir(this.dir(id))
    await (await fs.open(this.dataPath(id), 'wx', 0o644)).close()
  }

  async size (id: string): Promise<number> {
    return (await fs.stat(this.dataPath(id))).size
  }

  /** Bytes past `offset` were cut at start or after the failed write that left them (recoverUploads, resumable.ts). */
  async append (id: string): Promise<Appender> {
    return await DirectFile.open(this.dataPath(id), 'existing')
  }

  async truncate (id: string, size: number): Promise<void> {
    await fs.truncate(this.dataPath(id), size)
  }

  read (id: string, end: number): ReturnType<typeof createReadStream> {
    return createReadStream(this.dataPath(id), { start: 0, end: Math.max(0, end - 1), highWaterMark: 1 << 20 })
  }

  /** Flushed, then renamed into the blob store's staging area (same disk); a failed publish puts the file back. */
  async handOver (id: string, blobs: BlobStore): Promise<PendingBlob> {
    await this.sync(id)
    return await blobs.adopt(this.dataPath(id))
  }

  async sync (id: string): Promise<void> {
    const handle = await fs.open(this.dataPath(id), 'r+')
    try { await handle.datasync() } finally { await handle.close() }
  }

  async remove (id: string): Promise<void> {
    await fs.rm(this.dir(id), { recursive: true, force: true })
  }
}
