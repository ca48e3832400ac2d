/**
 * A bare WebTorrent peer in a Chromium page: WebTorrent's browser build loaded into the page
 * (not the app: its script is injected inline, which the app's CSP forbids, so the context is
 * made with bypassCSP), on the page's origin, announcing to that origin's WebSocket tracker.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from '@playwright/test'

const BUILD = path.resolve(import.meta.dirname, '../../node_modules/webtorrent/dist/webtorrent.min.js')

/** WebTorrent's browser build as window.WebTorrent. */
export async function loadWebTorrent (page: Page): Promise<void> {
  const source = fs.readFileSync(BUILD, 'utf8').replace(/export\s*\{\s*(\w+)\s+as\s+default\s*\}\s*;?/, 'window.WebTorrent = $1;')
  await page.addScriptTag({ content: source, type: 'module' })
  await page.waitForFunction(() => typeof (window as any).WebTorrent === 'function')
}

export interface PageDownload {
  sha256: string
  /** This page's peer id (hex). */
  peerId: string
  /** The bytes each peer sent, by peer id (web seeds under "webSeed"). */
  sentBy: Record<string, number>
}

export interface PageDownloadOptions {
  /** Use the torrent's web seeds (its node URL, the bucket); false: peers alone. */
  webSeeds: boolean
  /** Keep only the wire to this peer id: every other wire is closed as it opens (before any piece could come). */
  onlyFrom?: string
  /** Give up after this long (ms). */
  timeoutMs: number
}

/**
 * Download a stored file in `page` (on the app's origin, WebTorrent loaded) through the origin's
 * tracker at wss://…/announce. The client stays up afterwards and seeds the file to other peers.
 */
export async function downloadInPage (page: Page, mediaId: string, opts: PageDownloadOptions): Promise<PageDownload> {
  return await page.evaluate(async ({ mediaId, opts }) => {
    const torrentFile = new Uint8Array(await (await fetch(`/api/media/${mediaId}/torrent`)).arrayBuffer())
    const WebTorrent = (window as any).WebTorrent
    const client = new WebTorrent({ webSeeds: opts.webSeeds, tracker: { rtcConfig: { iceServers: [] } } })
    ;(window as any).peers = [...(window as any).peers ?? [], client]
    const sentBy: Record<string, number> = {}
    return await new Promise<PageDownload>((resolve, reject) => {
      setTimeout(() => reject(new Error(`not downloaded in ${opts.timeoutMs} ms; received ${JSON.stringify(sentBy)}`)), opts.timeoutMs)
      client.add(torrentFile, { announce: [`${location.origin.replace('http', 'ws')}/announce`] }, (t: any) => {
        t.on('wire', (wire: any) => {
          const from = wire.type === 'webSeed' ? 'webSeed' : wire.peerId
          // Counted whatever the peer, so a wire closed too late would show in sentBy.
          wire.on('download', (bytes: number) => { sentBy[from] = (sentBy[from] ?? 0) + bytes })
          // Closed once WebTorrent has set the wire up (it does so right after this event).
          if (opts.onlyFrom !== undefined && from !== opts.onlyFrom) setTimeout(() => wire.destroy())
        })
        t.on('done', async () => {
          const digest = await crypto.subtle.digest('SHA-256', await t.files[0].arrayBuffer())
          resolve({ sha256: [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join(''), peerId: client.peerId, sentBy })
        })
        t.on('error', reject)
      })
    })
  }, { mediaId, opts })
}
