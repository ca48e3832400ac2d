/**
 * Downloading a shared file in the browser: WebTorrent fetches from every source at once,
 * other tabs over WebRTC and the server as a peer and as an HTTP web seed, so a closed
 * uploader tab or a busy swarm does not stop it.
 */
import type { MediaInfo } from './api.ts'
import { ApiError, mediaInfo, publicTorrent } from './api.ts'
import { addTorrent } from './tabSeeder.ts'

export class Download {
  info = $state<MediaInfo | undefined>()
  error = $state<string | undefined>()
  progress = $state(0)
  speed = $state(0)
  peers = $state(0)
  /** Bytes received by source: peers (WebRTC) and the server's web seed (HTTP). */
  fromPeers = $state(0)
  fromServer = $state(0)
  url = $state<string | undefined>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (readonly mediaId: string) {}

  async load (): Promise<void> {
    try {
      this.info = await mediaInfo(this.mediaId)
    } catch (err) {
      this.error = err instanceof ApiError && err.status === 404
        ? 'This file does not exist or is not shared with you. Check the link.'
        : (err as Error).message
    }
  }

  async start (): Promise<void> {
    if (!this.info) return
    this.error = undefined
    try {
      const torrent = await addTorrent(await publicTorrent(this.mediaId))
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
        this.url = URL.createObjectURL(new Blob([await file.arrayBuffer()], { type: this.info!.mimeType }))
      }
      if (torrent.done) await done()
      else torrent.once('done', () => { void done() })
    } catch (err) {
      this.error = `The download failed: ${(err as Error).message}`
    }
  }
}
