/**
 * Bytes of stored files the server sent since it started, by source: `http` (its web seed and
 * plain downloads: a browser's web seed sends nothing that tells it from a download), and `tcp`
 * and `webrtc` (BitTorrent peers). Totals per stats scope never go down; per torrent, only the
 * `maxTorrents` most recently served are kept (the least recently served are forgotten first),
 * so memory and the cost of a count stay flat whatever the number of files.
 */
import { scopesOf, type StatsScope } from './statsScope.ts'

export type Source = 'http' | 'tcp' | 'webrtc'

/** A torrent as its counts know it; who may see them is the access policy's to say (seesServed). */
export interface ServedTorrent {
  infoHash: string
  mediaId: string
  kind: 'public' | 'private'
  /** A private torrent's owner. */
  owner?: string
}

export interface ServedCounts {
  torrent: ServedTorrent
  bytes: Record<Source, number>
  total: number
}

/** Torrents counted one by one when none is given: a recent hour's worth on a busy server, a few hundred KB. */
const MAX_TORRENTS = 2000

const zero = (): Record<Source, number> => ({ http: 0, tcp: 0, webrtc: 0 })

export class ServedBytes {
  /** When the counts began (ISO). */
  readonly since = new Date().toISOString()
  /** Since start, every torrent's (`all`) and public torrents' (`public`). */
  readonly totals: Record<StatsScope, Record<Source, number>> = { all: zero(), public: zero() }
  /** In order of the last count, least recent first. */
  private readonly torrents = new Map<string, ServedCounts>()
  private readonly maxTorrents: number

  constructor (maxTorrents = MAX_TORRENTS) {
    this.maxTorrents = maxTorrents
  }

  count (torrent: ServedTorrent, source: Source, bytes: number): void {
    for (const scope of scopesOf(torrent.kind)) this.totals[scope][source] += bytes
    const counts = this.torrents.get(torrent.infoHash) ?? { torrent, bytes: zero(), total: 0 }
    counts.bytes[source] += bytes
    counts.total += bytes
    // Last in the map's order: the most recently served.
    this.torrents.delete(torrent.infoHash)
    this.torrents.set(torrent.infoHash, counts)
    if (this.torrents.size > this.maxTorrents) this.torrents.delete(this.torrents.keys().next().value!)
  }

  /** The torrents counted one by one, most bytes first. */
  mostServed (): ServedCounts[] {
    return [...this.torrents.values()].sort((a, b) => b.total - a.total)
  }

  /** The torrent is no longer seeded: its counts go (a file uploaded again starts from nothing). */
  forget (infoHash: string): void {
    this.torrents.delete(infoHash)
  }
}
