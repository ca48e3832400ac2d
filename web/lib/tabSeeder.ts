/**
 * WebTorrent in the tab: seeds the files kept in IndexedDB straight from their stored Blob
 * (a read-only chunk store over blob slices: no copy into another store, no re-hashing).
 */
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import type WebTorrent from 'webtorrent'
import type { Torrent } from 'webtorrent'

let client: Promise<WebTorrent> | undefined

function getClient (): Promise<WebTorrent> {
  // WebTorrent's own browser build: a bare `import 'webtorrent'` needs its webpack polyfills.
  client ??= import('webtorrent/dist/webtorrent.min.js').then(({ default: WT }) =>
    new WT({ tracker: { rtcConfig: { iceServers: [] } } }))
  return client
}

const blobSource = (blob: Blob) => ({
  readAt: async (offset: number, length: number) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer())
})

export interface SeedStatus { peers: number, uploaded: number }

/** The torrent in the tab's client (the one already there, if any), once `ready` has fired. */
async function add (torrentId: string | Uint8Array, opts: object, ready: 'ready' | 'metadata'): Promise<Torrent> {
  const wt = await getClient()
  const existing = await wt.get(torrentId)
  if (existing) return existing
  return await new Promise<Torrent>((resolve, reject) => {
    const t = wt.add(torrentId, opts)
    t.once(ready, () => resolve(t))
    t.once('error', reject)
  })
}

/** Seed a stored Blob: its pieces are taken as complete, nothing is copied or hashed. */
export const seedBlob = (blob: Blob, torrentFile: Uint8Array): Promise<Torrent> =>
  add(torrentFile, { store: ReadOnlyChunkStore.over(blobSource(blob)), skipVerify: true }, 'ready')

/**
 * Web seed requests in flight (one piece each; WebTorrent's default is 4). The browser opens 6
 * connections per host, so more only queue, but the queue keeps them busy: measured 26 → 43 MB/s
 * for 500 MB over loopback (bench/README.md). WebTorrent still caps it at about one second of
 * download, so on a slow link a streamed video's next pieces do not wait behind a long queue.
 */
const WEB_SEED_REQUESTS = 64

/** Download a torrent (.torrent bytes or a magnet link) into the tab, from peers and web seeds alike. */
export const addTorrent = (torrentId: string | Uint8Array): Promise<Torrent> => add(torrentId, { maxWebConns: WEB_SEED_REQUESTS }, 'metadata')

let streaming: Promise<void> | undefined

/**
 * Stream files to <video>/<audio> through the app's service worker (web/sw/stream.ts), once it
 * controls this page. Never settles where no worker will (the Vite dev server, a hard reload):
 * media then plays when its download is done.
 */
export function whenStreaming (): Promise<void> {
  streaming ??= (async () => {
    if (!('serviceWorker' in navigator)) return await new Promise<never>(() => {})
    const registration = await navigator.serviceWorker.ready
    // A first visit: the worker claims the page right after it activates (sw.ts).
    if (!navigator.serviceWorker.controller) await new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    ;(await getClient()).createServer({ controller: registration })
  })()
  return streaming
}

export async function stopSeeding (infoHash: string): Promise<void> {
  const wt = await getClient()
  const t = await wt.get(infoHash)
  if (t) await new Promise<void>(resolve => t.destroy({ destroyStore: false }, () => resolve()))
}

export async function seedStatus (infoHash: string): Promise<SeedStatus | undefined> {
  if (!client) return undefined
  const t = await (await client).get(infoHash)
  return t ? { peers: t.numPeers, uploaded: t.uploaded } : undefined
}
