/**
 * Resumable uploads on the local filesystem: MEDIA_DIR/.uploads/<id>/{data, info.json}.
 * Same disk as the blobs, so a finished upload is published by a rename, never a copy.
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { notFound } from '../../shared/errors.ts'
import { DirectFile } from './directFile.ts'
import { replaceFile } from './fsBlobStore.ts'
import type { Appender, StoredUpload, UploadStore } from './uploadStore.ts'

const UPLOADS = '.uploads'
const ID = /^[0-9a-f]{32}$/

export class FsUploadStore implements UploadStore {
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

  private infoPath (id: string): string {
    return path.join(this.dir(id), 'info.json')
  }

  /** The last size acknowledged, as fixed-width text: rewritten in place, never half a number. */
  private offsetPath (id: string): string {
    return path.join(this.dir(id), 'offset')
  }

  async init (): Promise<{ uploads: StoredUpload[], unreadable: string[] }> {
    await fs.mkdir(this.root, { recursive: true })
    const uploads: StoredUpload[] = []
    const unreadable: string[] = []
    for (const id of await fs.readdir(this.root)) {
      if (!ID.test(id)) continue
      try {
        const info: unknown = JSON.parse(await fs.readFile(this.infoPath(id), 'utf8'))
        uploads.push({ id, info, size: await this.goodSize(id) })
      } catch {
        unreadable.push(id)
      }
    }
    return { uploads, unreadable }
  }

  /** The bytes on disk, cut back to the last size acknowledged (uploads from before offsets were kept: all of them). */
  private async goodSize (id: string): Promise<number | undefined> {
    const size = await this.size(id).catch(() => undefined)
    const acknowledged = Number((await fs.readFile(this.offsetPath(id), 'utf8').catch(() => '')).trim() || NaN)
    if (size === undefined || !Number.isSafeInteger(acknowledged) || acknowledged >= size) return size
    await this.truncate(id, acknowledged)
    return acknowledged
  }

  async create (id: string, info: object): Promise<void> {
    await fs.mkdir(this.dir(id))
    await (await fs.open(this.dataPath(id), 'wx', 0o644)).close()
    await fs.writeFile(this.offsetPath(id), offsetText(0))
    await this.writeInfo(id, info)
  }

  async acknowledge (id: string, size: number): Promise<void> {
    await fs.writeFile(this.offsetPath(id), offsetText(size), { flag: 'r+' }).catch(async err => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      await fs.writeFile(this.offsetPath(id), offsetText(size))
    })
  }

  async writeInfo (id: string, info: object): Promise<void> {
    await replaceFile(this.infoPath(id), JSON.stringify(info))
  }

  async size (id: string): Promise<number> {
    return (await fs.stat(this.dataPath(id))).size
  }

  async append (id: string): Promise<Appender> {
    return await DirectFile.open(this.dataPath(id), 'existing')
  }

  async truncate (id: string, size: number): Promise<void> {
    await fs.truncate(this.dataPath(id), size)
  }

  read (id: string, end: number): ReturnType<typeof createReadStream> {
    return createReadStream(this.dataPath(id), { start: 0, end: Math.max(0, end - 1), highWaterMark: 1 << 20 })
  }

  async sync (id: string): Promise<void> {
    const handle = await fs.open(this.dataPath(id), 'r+')
    try { await handle.datasync() } finally { await handle.close() }
  }

  async remove (id: string): Promise<void> {
    await fs.rm(this.dir(id), { recursive: true, force: true })
  }
}

/** Always 20 characters, so rewriting it in place leaves no digits of a longer number behind. */
const offsetText = (size: number): string => String(size).padStart(20)
