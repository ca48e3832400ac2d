/**
 * WebTorrent in the tab: seeds the files kept in IndexedDB straight from their stored Blob
 * (a read-only chunk store over blob slices: no copy into another store, no re-hashing).
 */
import { ReadOnlyChunkStore } from '../../shared/readOnlyChunkStore.ts'
import { blobChunkStore } from './blobChunkStore.ts'
import { workerWebSeeds } from './rangeWebSeed.ts'
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

/** Each torrent's file as a Blob (undefined while pieces are missing). */
const fileBlobs = new WeakMap<Torrent, (type: string) => Blob | undefined>()

/**
 * The torrent in the tab's client (the one already there, if any), once `ready` has fired.
 * `added` runs on a new torrent at once, before WebTorrent connects anything.
 */
async function add (torrentId: string | Uint8Array, opts: object, ready: 'ready' | 'metadata', added: (t: Torrent) => void): Promise<Torrent> {
  const wt = await getClient()
  const existing = await wt.get(torrentId)
  if (existing) return existing
  return await new Promise<Torrent>((resolve, reject) => {
    const t = wt.add(torrentId, opts)
    added(t)
    t.once(ready, () => resolve(t))
    t.once('error', reject)
  })
}

/** Seed a stored Blob: its pieces are taken as complete, nothing is copied or hashed. */
export const seedBlob = (blob: Blob, torrentFile: Uint8Array): Promise<Torrent> =>
  add(torrentFile, { store: ReadOnlyChunkStore.over(blobSource(blob)), skipVerify: true }, 'ready',
    t => fileBlobs.set(t, type => blob.slice(0, blob.size, type)))

/** A finished torrent's file as a Blob, without copying its bytes. */
export function fileBlob (torrent: Torrent, type: string): Blob {
  const blob = fileBlobs.get(torrent)?.(type)
  if (!blob) throw new Error('the file is not complete in this tab')
  return blob
}

/**
 * Web seed requests in flight where each is an HTTP request of its own (WebTorrent's default is
 * 4; more only queue in the browser, but the queue keeps its 6 connections busy: measured 26 → 43
 * MB/s for 500 MB over loopback). Web seeds that stream raise it (rangeWebSeed.ts).
 */
const WEB_SEED_REQUESTS = 64

const webSeedWorker = (): Worker =>
  new Worker(new URL('../workers/webSeed.worker.ts', import.meta.url), { type: 'module', name: 'web seed' })

/**
 * Download a torrent (.torrent bytes or a magnet link) into the tab, from peers and web seeds
 * alike: pieces go to Blobs (blobChunkStore.ts; no cache in front of it, its unfinished pieces
 * are in memory already), and each web seed is fetched in long ranges and checked by a worker of
 * its own (rangeWebSeed.ts, webSeed.worker.ts).
 */
export function addTorrent (torrentId: string | Uint8Array): Promise<Torrent> {
  const store = blobChunkStore()
  return add(torrentId, { maxWebConns: WEB_SEED_REQUESTS, store: store.Store, storeCacheSlots: 0 }, 'metadata', t => {
    workerWebSeeds(t, { spawn: webSeedWorker, store: store.made })
    fileBlobs.set(t, type => store.made()?.blob(type))
  })
}

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
