/** A torrent's bittorrent-tracker client, which webtorrent keeps private: read here alone. */
import type { Torrent } from 'webtorrent'

/** bittorrent-tracker's object for one tracker of a torrent. */
export interface TrackerConnection {
  announceUrl: string
  socket?: { connected?: boolean } | null
  client: NodeJS.EventEmitter
}

/** A torrent's tracker client; it keeps one object per tracker in _trackers. */
export function trackerClient (torrent: Torrent): { _trackers: TrackerConnection[], update (): void } | undefined {
  return (torrent as unknown as { discovery?: { tracker?: { _trackers: TrackerConnection[], update (): void } } }).discovery?.tracker ?? undefined
}
