/**
 * The files this browser added: hashed in a worker, kept in IndexedDB, uploaded (or claimed
 * when the server already has the bytes), seeded from the tab, and described by a signed OIP
 * record. After a reload everything comes back from IndexedDB and seeding resumes at once,
 * without hashing again.
 */
import bencode from 'bencode'
import type { Publication } from '../../shared/publication.ts'
import { buildTorrent, infoHashOf, renamedInfo, torrentName } from '../../shared/torrent.ts'
import { storedMimeType } from '../../shared/media.ts'
import { torrentSaltFor } from '../../shared/wallet.ts'
import * as api from './api.ts'
import { openLibraryDb, withQuota, type LibraryFile } from './db.ts'
import { browserSha1, hashFile, infoHashOfTorrent } from './hashing.ts'
import { publishRecord } from './publishRecord.ts'
import type { Session } from './session.svelte.ts'
import { seedBlob, seedStatus, stopSeeding } from './tabSeeder.ts'
import { toasts } from './toasts.svelte.ts'
import { makeThumbnail, thumbnailId, type Thumbnail } from './thumbnails.ts'

export type Phase = 'hashing' | 'queued' | 'uploading' | 'paused' | 'seeding' | 'stored' | 'failed' | 'cancelled'

const QUEUED = 'Offline: this upload waits and goes when the network is back.'

/** No network (or no server): worth retrying by itself later, unlike a refusal. */
const isNetworkError = (err: unknown): boolean =>
  err instanceof TypeError || (err instanceof api.ApiError && err.status === 0) || !navigator.onLine

export interface AddOptions {
  accessLevel: 'public' | 'private'
  title: string
  description: string
  /** Publish its record to the OIP network too. */
  publishToNetwork: boolean
}

/** How often rows ask how far their records got on the OIP network, until they are confirmed. */
const PUBLICATION_POLL_MS = 5000

/** What keep() needs from a finished download. */
export interface KeptDownload {
  mediaId: string
  blob: Blob
  name: string
  type: string
  torrentFile: Uint8Array
  infoHash: string
  /** Private: a file of mine or one shared with me, read with my session. */
  accessLevel: 'public' | 'private'
}

/** The link that opens a file's page (App.svelte reads it), in any browser. */
export const shareLink = (mediaId: string): string => `${location.origin}/#/m/${mediaId}`

export class LibraryItem {
  file = $state<LibraryFile>() as LibraryFile
  phase = $state<Phase>('hashing')
  hashed = $state(0)
  sent = $state(0)
  peers = $state(0)
  uploaded = $state(0)
  error = $state<string | undefined>()
  /** How far its record got on the OIP network (the server's answer), or why it was not sent. */
  publication = $state<Publication | undefined>()
  networkError = $state<string | undefined>()
  /** The thumbnail being made (beside the hashing), until it is kept. */
  thumbnailing: Promise<void> | undefined
  private controller = new AbortController()

  constructor (file: LibraryFile, phase: Phase) {
    this.file = file
    this.phase = phase
  }

  get infoHash (): string | undefined { return this.file.infoHash }
  get onServer (): boolean { return this.file.server !== undefined && this.file.serverDeletedAt === undefined }
  get shareLink (): string { return shareLink(this.file.mediaId) }

  cancel (): void {
    this.controller.abort()
  }

  signal (): AbortSignal {
    if (this.controller.signal.aborted) this.controller = new AbortController()
    return this.controller.signal
  }
}

/** The server's codes for an upload refused at one of my key's limits (server/media/quotas.ts). */
const LIMIT_CODES = ['quota_exceeded', 'file_quota_exceeded']

export class Library {
  items = $state<LibraryItem[]>([])
  /** The last upload the server refused at one of my key's limits, until one goes through: My files' usage shows it. */
  limitRefusal = $state<{ name: string, message: string } | undefined>()
  private readonly session: Session
  private timer: ReturnType<typeof setInterval> | undefined
  private publicationTimer: ReturnType<typeof setInterval> | undefined
  private loaded = false

  constructor (session: Session) {
    this.session = session
    // The upload queue: whatever waited for the network goes as soon as it is back.
    window.addEventListener('online', () => {
      for (const item of this.items) if (item.phase === 'queued') void this.process(item, item.file.blob as File)
    })
  }

  /** Back from IndexedDB: list everything, resume seeding what was seeding (no hashing). */
  async load (): Promise<void> {
    // Once per page: unlocking again must not start a second upload of what is in flight.
    if (this.loaded) return
    this.loaded = true
    const db = await openLibraryDb()
    const files = (await db.getAll('files')).sort((a, b) => b.addedAt.localeCompare(a.addedAt))
    this.items = files.map(f => new LibraryItem(f, f.seeding ? 'seeding' : f.server || f.downloaded ? 'stored' : 'queued'))
    for (const item of this.items) {
      // Uploads that did not finish (closed tab, no network) carry on from where they stopped.
      if (!item.file.server && !item.file.downloaded) void this.process(item, item.file.blob as File)
      else if (item.file.seeding && item.file.torrentFile) {
        seedBlob(item.file.blob, item.file.torrentFile).catch(err => { item.error = `Cannot seed: ${(err as Error).message}` })
      }
      // Files kept before thumbnails were made get one here (not uploaded: their record is signed).
      void this.thumbnailFor(item)
      // Records published before signatures were Bitcoin signed messages: the same record, signed anew.
      if (item.file.recordId && item.file.recordSignatureFormat !== 'bitcoin-message-v1') {
        this.publishRecord(item).catch(err => { if (!isNetworkError(err)) item.error = `Cannot sign the record again: ${(err as Error).message}` })
      }
    }
    this.timer ??= setInterval(() => { void this.refreshStats() }, 1000)
    this.publicationTimer ??= setInterval(() => { void this.refreshPublications() }, PUBLICATION_POLL_MS)
    void this.refreshPublications(true)
  }

  /** Retry: the same record, signed again here (the same signature), and sent again; the server queues it anew. */
  async publishAgain (item: LibraryItem): Promise<void> {
    await this.publishRecord(item)
  }

  async add (files: File[], opts: AddOptions): Promise<void> {
    await Promise.all(files.map(file => this.addOne(file, opts)))
  }

  async retry (item: LibraryItem): Promise<void> {
    item.error = undefined
    await this.process(item, item.file.blob as File)
  }

  async stopSeeding (item: LibraryItem): Promise<void> {
    if (item.infoHash) await stopSeeding(item.infoHash)
    await this.save(item, { seeding: false })
    item.phase = 'stored'
  }

  /** Pin on the server: its seeder keeps the file's torrent active even when nobody asks for it. */
  async setPinned (item: LibraryItem, pinned: boolean): Promise<void> {
    await this.session.authorized(token => api.setPinned(item.file.mediaId, pinned, token))
    await this.save(item, { pinned })
  }

  async startSeeding (item: LibraryItem): Promise<void> {
    if (!item.file.torrentFile) return
    await seedBlob(item.file.blob, item.file.torrentFile)
    await this.save(item, { seeding: true })
    item.phase = 'seeding'
  }

  /**
   * Keep a file downloaded in this tab. Its torrent came with it, so nothing is hashed; seeding
   * goes on from the tab (from the stored Blob after a reload) only if asked.
   */
  async keep (download: KeptDownload, seed: boolean): Promise<void> {
    const file: LibraryFile = {
      ...download,
      size: download.blob.size,
      title: download.name,
      description: '',
      downloaded: true,
      seeding: seed,
      addedAt: new Date().toISOString()
    }
    await withQuota(async () => { await (await openLibraryDb()).put('files', file) })
    if (this.loaded && !this.items.some(i => i.file.mediaId === file.mediaId)) {
      const item = new LibraryItem(file, seed ? 'seeding' : 'stored')
      this.items = [item, ...this.items]
      void this.thumbnailFor(item)
    }
    if (seed) await seedBlob(file.blob, download.torrentFile)
    else await stopSeeding(download.infoHash)
  }

  /**
   * My record of this file was deleted from the server (My files): the copy here goes too when
   * asked, else it stays, marked as not on the server, and is not uploaded again by itself.
   */
  async deletedFromServer (mediaId: string, removeHere: boolean): Promise<void> {
    const item = this.items.find(i => i.file.mediaId === mediaId)
    if (!item) return
    if (removeHere) return await this.remove(item)
    // The server deleted the thumbnail with the file: an upload again sends it again.
    await this.save(item, { serverDeletedAt: new Date().toISOString(), recordId: undefined, pinned: undefined, thumbnailId: undefined })
  }

  /** Put a file deleted from the server back: uploaded (or claimed) and described again. */
  async uploadAgain (item: LibraryItem): Promise<void> {
    await this.save(item, { server: undefined, serverDeletedAt: undefined, infoHash: undefined })
    await this.retry(item)
  }

  /**
   * My file changed on the server (My files: an edit or an access change), which dropped my
   * record. The copy here takes the new words and, after an access change, the server's new
   * torrent (checked against the pieces hashed here; seeded instead of the old one), and the
   * record is signed again from what this browser knows. The file's row, or undefined when the
   * file is not here.
   */
  async changedOnServer (changed: api.ServerFile, magnetURI: string): Promise<LibraryItem | undefined> {
    const item = this.items.find(i => i.file.mediaId === changed.mediaId && i.file.server && !i.file.downloaded)
    if (!item) return undefined
    const { accessLevel, infoHash } = changed
    const patch: Partial<LibraryFile> = {
      title: changed.name ?? changed.originalName,
      description: changed.description ?? '',
      tags: changed.tags ?? [],
      accessLevel,
      server: { ...item.file.server!, accessLevel, infoHash, magnetURI },
      recordId: undefined
    }
    if (infoHash !== item.infoHash) {
      const torrentFile = await this.session.authorized(token => api.torrentFor(changed.mediaId, token))
      // The new torrent's name and salt are the server's; its pieces must be ours.
      const info = (bencode.decode(torrentFile) as { info: Record<string, unknown> }).info
      const text = (v: unknown): string | undefined => v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined
      const salt = text(info['x-oip-salt'])
      await this.checkTorrent(item, torrentFile, infoHash, text(info.name) ?? '', salt)
      if (item.phase === 'seeding') {
        await stopSeeding(item.infoHash!)
        await seedBlob(item.file.blob, torrentFile)
      }
      Object.assign(patch, { torrentFile, infoHash, torrentSalt: salt })
    }
    await this.save(item, patch)
    await this.publishRecord(item)
    return item
  }

  /** Remove from this browser (the server copy stays). */
  async remove (item: LibraryItem): Promise<void> {
    item.cancel()
    if (item.infoHash) await stopSeeding(item.infoHash)
    await (await openLibraryDb()).delete('files', item.file.mediaId)
    this.items = this.items.filter(i => i !== item)
  }

  private async addOne (file: File, opts: AddOptions): Promise<void> {
    const item = new LibraryItem({
      mediaId: '',
      blob: file,
      name: file.name,
      type: file.type || 'application/octet-stream',
      size: file.size,
      accessLevel: opts.accessLevel,
      title: opts.title || file.name,
      description: opts.description,
      publishToNetwork: opts.publishToNetwork,
      seeding: false,
      addedAt: new Date().toISOString()
    }, 'hashing')
    if (file.size === 0) {
      item.phase = 'failed'
      item.error = `${file.name} is empty: choose a file with content.`
    }
    this.items = [item, ...this.items]
    if (item.phase !== 'failed') await this.process(item, file)
  }

  /** Hash (once), keep, upload or claim, seed, sign the record. Each step resumes where it stopped. */
  private async process (item: LibraryItem, file: File): Promise<void> {
    const signal = item.signal()
    // Beside the hashing, in a worker of its own: it does not wait for it, nor it for it.
    void this.thumbnailFor(item)
    try {
      if (!item.file.torrentFile) {
        item.phase = 'hashing'
        const hashes = await hashFile(file, { onProgress: (done, total) => { item.hashed = done / total }, signal })
        item.hashed = 1
        if (this.items.some(i => i !== item && i.file.mediaId === hashes.mediaId)) {
          this.items = this.items.filter(i => i !== item)
          toasts.success(`${file.name} is already in your library.`)
          return
        }
        const privateSalt = item.file.accessLevel === 'private' ? torrentSaltFor(this.session.key.privateKey, hashes.mediaId) : undefined
        const own = buildTorrent({ name: torrentName(file.name), length: hashes.size, pieceLength: hashes.pieceLength, pieces: hashes.pieces, ...(privateSalt ? { privateSalt } : {}) },
          { announce: [], urlList: [] }, await browserSha1())
        await this.save(item, { mediaId: hashes.mediaId, torrentFile: own.torrentFile, localInfoHash: own.infoHash, ...(privateSalt ? { torrentSalt: privateSalt } : {}) })
      }
      if (!item.file.server) {
        item.phase = 'uploading'
        item.error = undefined
        const { mediaId, accessLevel, title, description, torrentSalt } = item.file
        const fields = { accessLevel, name: title, description, ...(torrentSalt ? { torrentSalt } : {}) }
        const server = await this.session.authorized(async token => await api.serverHas(mediaId, token)
          ? await api.claim(mediaId, token, { name: file.name, type: storedMimeType(item.file.type) }, fields)
          : await api.resumableUpload({
            file,
            fields,
            sha256: mediaId,
            ...(item.file.uploadUrl ? { uploadUrl: item.file.uploadUrl } : {}),
            onUrl: async uploadUrl => { await this.save(item, { uploadUrl }) },
            onProgress: (sent, total) => { item.sent = sent / total },
            signal
          }, token))
        item.sent = 1
        this.limitRefusal = undefined
        // Seed exactly the server's torrent for this owner: same pieces, the server's name (the
        // first public upload's), our salt.
        const torrentFile = await this.session.authorized(token => api.torrentFor(mediaId, token))
        await this.checkTorrent(item, torrentFile, server.infoHash, server.originalName, torrentSalt)
        await this.save(item, { server, torrentFile, infoHash: server.infoHash, uploadUrl: undefined })
      }
      await seedBlob(item.file.blob, item.file.torrentFile!)
      await this.save(item, { seeding: true })
      item.phase = 'seeding'
      if (!item.file.recordId) {
        await this.uploadThumbnail(item)
        await this.publishRecord(item)
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' && item.phase === 'uploading') {
        item.phase = 'paused'
        item.error = `Paused at ${Math.floor(item.sent * 100)}%. Resume to continue from there.`
      } else if ((err as Error).name === 'AbortError') {
        item.phase = 'cancelled'
        item.error = 'Cancelled. Retry to continue.'
      } else if (item.file.torrentFile && isNetworkError(err)) {
        item.phase = 'queued'
        item.error = QUEUED
      } else {
        item.phase = 'failed'
        item.error = (err as Error).message
        if (err instanceof api.ApiError && LIMIT_CODES.includes(err.code)) this.limitRefusal = { name: file.name, message: err.message }
      }
    }
  }

  /**
   * The server's torrent of this file for me has `infoHash`, and so do this browser's own pieces
   * under `name` (and `salt` for a private one): the server describes the bytes hashed here.
   */
  private async checkTorrent (item: LibraryItem, torrentFile: Uint8Array, infoHash: string, name: string, salt: string | undefined): Promise<void> {
    const ownInfo = (bencode.decode(item.file.torrentFile!) as { info: Record<string, unknown> }).info
    const expected = infoHashOf(renamedInfo(ownInfo, name, salt), await browserSha1())
    if (expected !== infoHash || await infoHashOfTorrent(torrentFile) !== infoHash) {
      throw new Error('The server describes this file with a different torrent than this browser computed. Remove it and add it again.')
    }
  }

  /**
   * Make the file's thumbnail once (an image or a video without one yet) and keep it with the
   * file; a file still hashing is not in IndexedDB yet, so it goes in with the hashes.
   */
  private thumbnailFor (item: LibraryItem): Promise<void> {
    const { file } = item
    if (item.thumbnailing || file.thumbnail || file.thumbnailNote !== undefined) return item.thumbnailing ?? Promise.resolve()
    const made = makeThumbnail(file.blob, file.type)
    if (!made) return Promise.resolve()
    item.thumbnailing = made.then(async (thumbnail: Thumbnail) => {
      const patch = 'blob' in thumbnail ? { thumbnail: thumbnail.blob } : { thumbnailNote: thumbnail.none }
      if (item.file.mediaId) await this.save(item, patch)
      else item.file = { ...item.file, ...patch }
    }).catch(err => { item.error = `Could not keep the thumbnail: ${(err as Error).message}` })
    return item.thumbnailing
  }

  /**
   * The thumbnail on the server as a small file of its own, with the file's access level, for
   * the record to name. One that cannot go up (other than for want of a network) is left out
   * of the record, which matters more, and the row says so.
   */
  private async uploadThumbnail (item: LibraryItem): Promise<void> {
    await item.thumbnailing
    const { thumbnail, thumbnailId: uploaded, accessLevel, title, name } = item.file
    if (!thumbnail || uploaded) return
    try {
      const id = await thumbnailId(thumbnail)
      const file = new File([thumbnail], `${name}.thumbnail.${thumbnail.type === 'image/webp' ? 'webp' : 'jpg'}`, { type: thumbnail.type })
      const fields = { accessLevel, name: `Thumbnail of ${title}`.slice(0, 200), description: '' }
      await this.session.authorized(async token => await api.serverHas(id, token)
        ? await api.claim(id, token, { name: file.name, type: file.type }, fields)
        : await api.upload(file, fields, token))
      await this.save(item, { thumbnailId: id })
    } catch (err) {
      if (isNetworkError(err)) throw err
      item.error = `The thumbnail was not uploaded (${(err as Error).message}); the record was signed without it.`
    }
  }

  /**
   * The OIP record, signed by the owner's key in the browser. Its media fields are what this
   * browser knows of the file, and it names the thumbnail uploaded with it; a server answer
   * that says otherwise gets no signature.
   */
  private async publishRecord (item: LibraryItem): Promise<void> {
    const { mediaId, size, type, infoHash, server, title, description, tags, addedAt, accessLevel, thumbnailId: thumbnail, publishToNetwork } = item.file
    const { stored, publication, networkError } = await publishRecord(this.session, { mediaId, size, infoHash: infoHash!, contentType: storedMimeType(type), origin: location.origin }, server!,
      accessLevel, { name: title, description, tags: tags ?? [], addedAt }, thumbnail ? [thumbnail] : [], publishToNetwork === true)
    item.publication = publication
    item.networkError = networkError
    await this.save(item, { recordId: stored.recordId, recordSignatureFormat: stored.signatureFormat })
  }

  /** Rows whose record is on its way to the OIP network ask the server how far it got (`all`: every row sent there, after a reload). */
  private async refreshPublications (all = false): Promise<void> {
    for (const item of this.items) {
      const { recordId, publishToNetwork, accessLevel } = item.file
      if (!recordId || !publishToNetwork || item.networkError) continue
      // Done: confirmed on Arweave, posted on GUN (where nothing confirms further).
      const done = item.publication?.state === 'confirmed' || (item.publication?.network === 'gun' && item.publication.state === 'posted')
      if (all ? item.publication !== undefined : item.publication === undefined || done) continue
      try {
        // A private record's publication is its owner's to see.
        item.publication = accessLevel === 'public' ? await api.recordPublication(recordId) : await this.session.authorized(token => api.recordPublication(recordId, token))
      } catch {
        // Offline, or the record is gone: the row keeps what it showed.
      }
    }
  }

  private async save (item: LibraryItem, patch: Partial<LibraryFile>): Promise<void> {
    // The Blobs as they are: a snapshot would copy them, and a new thumbnail Blob shows anew.
    const next = { ...$state.snapshot(item.file) as LibraryFile, blob: item.file.blob, thumbnail: item.file.thumbnail, ...patch }
    // Taken at once, so a save that starts before this one's write ends (the thumbnail beside
    // the hashing) builds on it; IndexedDB writes them in the order they began.
    item.file = next
    await withQuota(async () => { await (await openLibraryDb()).put('files', next) })
  }

  private async refreshStats (): Promise<void> {
    for (const item of this.items) {
      if (!item.infoHash || item.phase !== 'seeding') continue
      const s = await seedStatus(item.infoHash)
      if (s) { item.peers = s.peers; item.uploaded = s.uploaded }
    }
  }
}
