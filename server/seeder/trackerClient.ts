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

/** A torrent's bittorrent-tracker client: one object per tracker in _trackers; 'update' for each tracker's answer to an announce. */
interface TrackerClient extends NodeJS.EventEmitter {
  _trackers: TrackerConnection[]
  update (): void
}

/** A torrent's tracker client. */
export function trackerClient (torrent: Torrent): TrackerClient | undefined {
  return (torrent as unknown as { discovery?: { tracker?: TrackerClient } }).discovery?.tracker ?? undefined
}

/**
 * Calls `joined` with the swarm's leecher count when a WebSocket tracker first answers this
 * torrent's announce on a socket: the torrent just came up, or the tracker's socket was opened
 * anew (the tracker restarted, or moved to another node).
 */
export function onSwarmJoined (torrent: Torrent, joined: (leechers: number) => void): void {
  const client = trackerClient(torrent)
  if (!client) return
  const answeredOn = new Map<string, unknown>()
  client.on('update', (answer: { announce?: string, incomplete?: number }) => {
    const tracker = client._trackers.find(t => t.announceUrl === answer.announce)
    if (!tracker?.announceUrl.startsWith('ws') || answeredOn.get(tracker.announceUrl) === tracker.socket) return
    answeredOn.set(tracker.announceUrl, tracker.socket)
    joined(Number(answer.incomplete ?? 0))
  })
}
