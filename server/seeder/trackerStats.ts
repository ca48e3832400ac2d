/**
 * Each tracker's state as the seeder sees it: announces that got an answer, the last error, and
 * whether a WebSocket tracker is connected, counted apart for every torrent and for public ones.
 */
import type { Torrent } from 'webtorrent'
import type { SeedRow } from '../catalog/seedRepository.ts'
import { scopesOf, type StatsScope } from './statsScope.ts'
import { trackerClient } from './trackerClient.ts'

export interface TrackerState {
  url: string
  /** A WebSocket tracker's connection is open (undefined for HTTP/UDP trackers, which have none). */
  connected?: boolean
  announces: number
  lastAnnounceAt?: string
  lastError?: string
  lastErrorAt?: string
}

/** Tracker URLs as they appear in stats: capabilities (?token=) stripped. */
const trackerKey = (url: string): string => url.split('?')[0]!

export class TrackerStats {
  /** Each tracker's state by what counts in it: every torrent's announces, or public torrents' only. */
  private readonly trackers: Record<StatsScope, Map<string, TrackerState>> = { all: new Map(), public: new Map() }

  /**
   * Note each tracker's answers and errors under its own URL. bittorrent-tracker's per-tracker
   * objects report through their parent client, and some errors do not name the tracker (an
   * HTTP tracker's network error is a bare "fetch failed"). So each one reports through a view
   * of the parent that notes its URL first, then passes everything on unchanged.
   */
  watch (torrent: Torrent, kind: SeedRow['kind']): void {
    for (const tracker of trackerClient(torrent)?._trackers ?? []) {
      const parent = tracker.client
      const emit = (event: string, ...args: unknown[]): boolean => {
        if (event === 'update') {
          for (const s of this.statesFor(tracker.announceUrl, kind)) {
            s.announces++
            s.lastAnnounceAt = new Date().toISOString()
          }
        } else if (event === 'warning') {
          for (const s of this.statesFor(tracker.announceUrl, kind)) {
            s.lastError = describe(args[0] as Error)
            s.lastErrorAt = new Date().toISOString()
          }
        }
        return parent.emit(event, ...args)
      }
      tracker.client = Object.create(parent, { emit: { value: emit } }) as typeof parent
    }
  }

  /**
   * The state of each of `announce`'s trackers in `scope`; `torrents` (the active ones in that
   * scope) tell whether a WebSocket tracker is connected. An unreachable tracker only shows up
   * here: the others, and the web seed, carry on.
   */
  states (announce: string[], scope: StatsScope, torrents: Torrent[]): TrackerState[] {
    return announce.map(url => {
      const key = trackerKey(url)
      const state = this.trackers[scope].get(key) ?? { url: key, announces: 0 }
      const sockets = torrents.flatMap(t => trackerClient(t)?._trackers ?? []).filter(c => trackerKey(c.announceUrl) === key && 'socket' in c)
      return sockets.length > 0 ? { ...state, connected: sockets.some(c => c.socket?.connected === true) } : { ...state }
    })
  }

  /** A tracker's state in each scope the torrent counts in (every torrent counts in `all`, public ones in `public` too). */
  private statesFor (url: string, kind: SeedRow['kind']): TrackerState[] {
    const key = trackerKey(url)
    return scopesOf(kind).map(scope => {
      let s = this.trackers[scope].get(key)
      if (!s) this.trackers[scope].set(key, s = { url: key, announces: 0 })
      return s
    })
  }
}

/** A tracker error for the stats: the network cause when there is one, never a capability or the seeder's key. */
function describe (err: Error): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  const why = cause?.code ?? cause?.message
  return `${err.message}${why ? ` (${why})` : ''}`.replace(/[?&](token|seeder)=[^\s)&]+/g, '')
}
