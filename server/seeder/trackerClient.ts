/** A torrent's bittorrent-tracker client, which webtorrent keeps private: read here alone. */
import type { Torrent } from 'webtorrent'

/** bittorrent-tracker's object for one tracker of a torrent. */
export interface TrackerConnection {
  announceUrl: string
  socket?: { connected?: boolean } | null
  client: NodeJS.EventEmitter
  /** A WebSocket tracker whose socket closed waits (10 s to 5 min) before it opens a new one. */
  reconnecting?: boolean
  reconnectTimer?: NodeJS.Timeout
  _openSocket? (): void
}

/**
 * Open the torrent's closed tracker sockets now, not after bittorrent-tracker's backoff (the
 * tracker moved to another node: it is there already); each announces once it is open.
 */
export function reconnectNow (torrent: Torrent): void {
  for (const tracker of trackerClient(torrent)?._trackers ?? []) {
    if (tracker.reconnecting !== true || !tracker._openSocket) continue
    clearTimeout(tracker.reconnectTimer)
    tracker._openSocket()
  }
}

/** A torrent's tracker client; it keeps one object per tracker in _trackers. */
export function trackerClient (torrent: Torrent): { _trackers: TrackerConnection[], update (): void } | undefined {
  return (torrent as unknown as { discovery?: { tracker?: { _trackers: TrackerConnection[], update (): void } } }).discovery?.tracker ?? undefined
}
