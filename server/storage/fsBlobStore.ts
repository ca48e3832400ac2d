/**
 * Blobs on the local filesystem, in the seed's layout:
 *   MEDIA_DIR/<mediaId>/{original, manifest.json, torrent}, MEDIA_DIR/.incoming/ for uploads in flight.
 * Publish is one directory rename: a crash leaves either nothing or the complete folder.
 * Several nodes may share MEDIA_DIR (one PostgreSQL catalogue), so each names its staging folders
 * after itself: at start a node removes its own (what its previous run left), and another's only
 * once nobody has written to it for the grace.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { AppError, notFound } from '../../shared/errors.ts'
import { isMediaId, type MediaManifest } from '../../shared/media.ts'
import type { BlobReader, BlobStat, BlobStore, PendingBlob, StagingBlob } from './blobStore.ts'
import { DirectFile } from './directFile.ts'
import { fsBlobReader, isAbsent, openStored } from './fsBlobReader.ts'
import { stagingHeartbeat } from './stagingHeartbeat.ts'

const INCOMING = '.incoming'

/** Write a file and flush it to disk before it is renamed into view. */
async function writeDurable (file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, 'w', 0o644)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function fsyncDir (dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Replace a file atomically: temp file, fsync, rename, fsync the folder. */
export async function replaceFile (file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeDurable(tmp, data)
    await fs.rename(tmp, file)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
  await fsyncDir(path.dirname(file))
}

/** Disk full and quota errors become 507 so clients know to retry later, not resend. */
export function storageError (err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError(507, 'insufficient_storage', 'The server has no disk space left for this file. Nothing was stored; try again later or contact the operator.')
  }
  return err
}

/** When a staging folder or anything in it was last written (ms); undefined when it is gone. */
async function lastWritten (staging: string): Promise<number | undefined> {
  let newest: number
  try {
    newest = (await fs.stat(staging)).mtimeMs
  } catch (err) {
    if (isAbsent(err)) return undefined
    throw err
  }
  for (const entry of await fs.readdir(staging).catch(() => [])) {
    newest = Math.max(newest, (await fs.stat(path.join(staging, entry)).catch(() => ({ mtimeMs: 0 }))).mtimeMs)
  }
  return newest
}

export interface FsBlobStoreOptions {
  /** Who this process is among those sharing MEDIA_DIR (its NODE_URL): names its staging folders. */
  node?: string
  /** Another process's staging folder nobody has written to for this long is abandoned (ms). */
  stagingGraceMs?: number
}

export class FsBlobStore implements BlobStore {
  readonly root: string
  private readonly incoming: string
  /** The start of this node's staging folders' names. */
  private readonly mine: string
  private readonly stagingGraceMs: number
  /** This node's staging folders of uploads in flight: touched while they wait (see touchInFlight). */
  private readonly inFlight = new Set<string>()
  private heartbeat: NodeJS.Timeout | undefined

  constructor (root: string, opts: FsBlobStoreOptions = {}) {
    this.root = root
    this.incoming = path.join(root, INCOMING)
    this.mine = `${createHash('sha256').update(opts.node ?? '').digest('hex').slice(0, 12)}-`
    this.stagingGraceMs = opts.stagingGraceMs ?? 3_600_000
  }

  /** Removes this node's staging folders (its previous run's uploads in flight) and others' abandoned ones. */
  async init (): Promise<{ sweptIncoming: number, directIo: boolean }> {
    await fs.mkdir(this.incoming, { recursive: true })
    let sweptIncoming = 0
    for (const name of await fs.readdir(this.incoming)) {
      if (!name.startsWith(this.mine)) continue
      await fs.rm(path.join(this.incoming, name), { recursive: true, force: true })
      sweptIncoming++
    }
    sweptIncoming += await this.collectStaging(this.stagingGraceMs)
    this.heartbeat = stagingHeartbeat(this.stagingGraceMs, async () => await this.touchInFlight())
    return { sweptIncoming, directIo: await DirectFile.supported(this.incoming) }
  }

  /**
   * Delete other nodes' staging folders that nobody has touched for `graceMs`; how many. A node
   * touches its uploads in flight every quarter of the grace, however slowly their bytes come
   * (touchInFlight), so only a stopped node's stay untouched; this node's own are in flight
   * until it stops.
   */
  async collectStaging (graceMs: number): Promise<number> {
    let collected = 0
    for (const name of await fs.readdir(this.incoming).catch(() => [])) {
      if (name.startsWith(this.mine)) continue
      const written = await lastWritten(path.join(this.incoming, name))
      if (written === undefined || Date.now() - written < graceMs) continue
      await fs.rm(path.join(this.incoming, name), { recursive: true, force: true })
      collected++
    }
    return collected
  }

  async check (): Promise<void> {
    // Asked, not written: anyone may call /readyz, and a call must not cost a disk write.
    // access(W_OK) sees permissions and read-only mounts; a full disk shows in the disk check.
    // The reason names the folder by its setting, never by its absolute path.
    try {
      if (!(await fs.stat(this.incoming)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
      await fs.access(this.incoming, fs.constants.W_OK)
    } catch (err) {
      throw new Error(`MEDIA_DIR/${INCOMING} is not a writable folder (${(err as NodeJS.ErrnoException).code ?? 'unknown error'}): uploads would fail`)
    }
  }

  private dir (mediaId: string): string {
    // The one place ids become paths: anything but 64 lowercase hex is refused.
    if (!isMediaId(mediaId)) throw notFound()
    return path.join(this.root, mediaId)
  }

  /** The blob's file: the one place its path is made. */
  location (mediaId: string): string {
    return path.join(this.dir(mediaId), 'original')
  }

  isLocation (location: string, mediaId: string): boolean {
    return isMediaId(mediaId) && path.resolve(location) === path.resolve(this.location(mediaId))
  }

  async begin (): Promise<StagingBlob> {
    const staging = await this.newStaging()
    const file = await DirectFile.open(path.join(staging, 'original'), 'create')
    const pending = this.pending(staging, {
      written: async () => { await file.close() },
      release: async () => {
        await file.close().catch(() => {})
        await fs.rm(staging, { recursive: true, force: true })
      }
    })
    return { ...pending, file }
  }

  async adopt (file: string): Promise<PendingBlob> {
    const staging = await this.newStaging()
    const original = path.join(staging, 'original')
    await fs.rename(file, original)
    return this.pending(staging, {
      written: async () => {},
      release: async () => {
        await fs.rename(original, file).catch(() => {})
        await fs.rm(staging, { recursive: true, force: true })
      }
    })
  }

  private async newStaging (): Promise<string> {
    const staging = path.join(this.incoming, this.mine + randomBytes(12).toString('hex'))
    await fs.mkdir(staging)
    this.inFlight.add(staging)
    return staging
  }

  /** Touch this node's uploads in flight: another node collects only staging nobody touched for the grace. */
  async touchInFlight (): Promise<void> {
    const now = new Date()
    await Promise.all([...this.inFlight].map(async staging => { await fs.utimes(staging, now, now).catch(() => {}) }))
  }

  async close (): Promise<void> {
    clearInterval(this.heartbeat)
  }

  /** Commit or abort a staging folder; `release` undoes it (delete, or give adopted bytes back). */
  private pending (staging: string, hooks: { written: () => Promise<void>, release: () => Promise<void> }): PendingBlob {
    const original = path.join(staging, 'original')
    let settled = false
    return {
      read: () => createReadStream(original, { highWaterMark: 1 << 20 }),
      commit: async (manifest, torrentFile) => {
        if (settled) throw new Error('pending blob already settled')
        settled = true
        try {
          await hooks.written()
          const handle = await fs.open(original, 'r')
          try { await handle.sync() } finally { await handle.close() }
          await writeDurable(path.join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2))
          await writeDurable(path.join(staging, 'torrent'), torrentFile)
          await fsyncDir(staging)
          const target = this.dir(manifest.mediaId)
          try {
            await fs.rename(staging, target)
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code
            if (code === 'ENOTEMPTY' || code === 'EEXIST') {
              // Already stored: these bytes are a duplicate, whatever their origin. Published
              // again now, so a blob nobody held waits a whole grace period before collection.
              await fs.rm(staging, { recursive: true, force: true })
              const now = new Date()
              await fs.utimes(target, now, now).catch(() => {})
              return 'existed'
            }
            throw err
          }
          await fsyncDir(this.root)
          return 'created'
        } catch (err) {
          await hooks.release()
          throw storageError(err)
        } finally {
          this.inFlight.delete(staging)
        }
      },
      abort: async () => {
        if (settled) return
        settled = true
        this.inFlight.delete(staging)
        await hooks.release()
      }
    }
  }

  async has (mediaId: string): Promise<boolean> {
    return (await this.stat(mediaId)) !== undefined
  }

  async stat (mediaId: string): Promise<BlobStat | undefined> {
    if (!isMediaId(mediaId)) return undefined
    try {
      const s = await fs.stat(this.location(mediaId))
      return s.isFile() ? { size: s.size } : undefined
    } catch (err) {
      // Only "not there" is absent: a full file table or a permission error says nothing about
      // the bytes (and must not get a stored file marked missing).
      if (isAbsent(err)) return undefined
      throw err
    }
  }

  async publishedAt (mediaId: string): Promise<number | undefined> {
    // The folder's mtime moves when it is published (renamed into place) or published again (touched).
    if (!await this.has(mediaId)) return undefined
    // Removed since: absent, as has() would say now; any other error is not an answer.
    return (await fs.stat(this.dir(mediaId)).catch((err: unknown) => { if (isAbsent(err)) return undefined; throw err }))?.mtimeMs
  }

  async readManifest (mediaId: string): Promise<MediaManifest> {
    return JSON.parse(await fs.readFile(path.join(this.dir(mediaId), 'manifest.json'), 'utf8')) as MediaManifest
  }

  async readTorrent (mediaId: string): Promise<Uint8Array> {
    return await fs.readFile(path.join(this.dir(mediaId), 'torrent'))
  }

  async read (mediaId: string): Promise<Readable> {
    return (await openStored(() => this.location(mediaId))).createReadStream({ highWaterMark: 1 << 20 })
  }

  reader (mediaId: string): BlobReader {
    return fsBlobReader(() => this.location(mediaId))
  }

  async * list (): AsyncIterable<string> {
    const dir = await fs.opendir(this.root)
    for await (const entry of dir) {
      if (entry.isDirectory() && isMediaId(entry.name)) yield entry.name
    }
  }

  async remove (mediaId: string): Promise<void> {
    // Rename out of view first so a half-deleted folder is never served.
    const trash = path.join(this.incoming, `${this.mine}deleted-${mediaId}-${randomBytes(4).toString('hex')}`)
    try {
      await fs.rename(this.dir(mediaId), trash)
    } catch (err) {
      if (isAbsent(err)) return // gone already (removed by hand): removing it is done
      throw err
    }
    await fsyncDir(this.root)
    await fs.rm(trash, { recursive: true, force: true })
  }
}
