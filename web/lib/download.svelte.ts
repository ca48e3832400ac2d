/**
 * Downloading in the browser: WebTorrent fetches from every source at once, other tabs over
 * WebRTC and the server as a peer and as an HTTP web seed, so a closed uploader tab or a busy
 * swarm does not stop it. The file comes from a share link (the server's .torrent), a pasted
 * magnet link, or a .torrent file.
 */
import { ApiError, mediaInfo, publicTorrent } from './api.ts'
import { addTorrent } from './tabSeeder.ts'

export interface DownloadInfo {
  name: string
  size: number
  mimeType: string
}

export type TorrentSource = { mediaId: string } | { torrentId: string | Uint8Array }

export class Download {
  info = $state<DownloadInfo | undefined>()
  error = $state<string | undefined>()
  started = $state(false)
  progress = $state(0)
  speed = $state(0)
  peers = $state(0)
  /** Bytes received by source: WebRTC peers (tabs or the server's seeder) and HTTP web seeds. */
  fromPeers = $state(0)
  fromServer = $state(0)
  url = $state<string | undefined>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (readonly source: TorrentSource) {}

  /** What the page can show before the download starts (share links only: the server knows). */
  async load (): Promise<void> {
    if (!('mediaId' in this.source)) return
    try {
      const info = await mediaInfo(this.source.mediaId)
      this.info = { name: info.originalName, size: info.fileSize, mimeType: info.mimeType }
    } catch (err) {
      this.error = err instanceof ApiError && err.status === 404
        ? 'This file does not exist or is not shared with you. Check the link.'
        : (err as Error).message
    }
  }

  async start (): Promise<void> {
    this.error = undefined
    this.started = true
    try {
      const id = 'mediaId' in this.source ? await publicTorrent(this.source.mediaId) : this.source.torrentId
      const torrent = await addTorrent(id)
      this.info ??= { name: torrent.name, size: torrent.length, mimeType: '' }
      torrent.on('wire', wire => {
        wire.on('download', (n: number) => {
          if (wire.type === 'webSeed') this.fromServer += n
          else this.fromPeers += n
        })
      })
      this.timer = setInterval(() => {
        this.progress = torrent.progress
        this.speed = torrent.downloadSpeed
        this.peers = torrent.numPeers
      }, 250)
      const done = async (): Promise<void> => {
        clearInterval(this.timer)
        this.progress = 1
        const file = torrent.files[0]!
        this.url = URL.createObjectURL(new Blob([await file.arrayBuffer()], this.info?.mimeType ? { type: this.info.mimeType } : {}))
      }
      if (torrent.done) await done()
      else torrent.once('done', () => { void done() })
    } catch (err) {
      this.started = false
      this.error = `The download failed: ${(err as Error).message}`
    }
  }
}
