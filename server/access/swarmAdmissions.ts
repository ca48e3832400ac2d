/**
 * The peers the tracker admitted to each private swarm: (infoHash, peer id) → until when. The
 * seeder serves a private torrent only to these (AccessPolicy.admitsPeer). Peer ids, not
 * addresses: peers behind one NAT, or on one host, share an address.
 *
 * Kept in memory: after a restart a peer is served again once it announces again (peers
 * re-announce every tracker interval, and at once when their WebSocket reconnects).
 */

/** As many peers as bittorrent-tracker keeps per swarm; a capability holder announcing more
 * peer ids than that pushes out its own oldest. */
export const MAX_PEERS_PER_SWARM = 1000

export class SwarmAdmissions {
  /** infoHash → peer id → expiry (ms), oldest admission first. */
  private readonly swarms = new Map<string, Map<string, number>>()

  constructor (private readonly now: () => number = Date.now) {}

  /** Admit a peer id to a swarm until `until` (ms), or renew its admission. */
  admit (infoHash: string, peerId: string, until: number): void {
    let peers = this.swarms.get(infoHash)
    if (!peers) this.swarms.set(infoHash, peers = new Map())
    const now = this.now()
    for (const [id, expiry] of peers) if (expiry <= now) peers.delete(id)
    peers.delete(peerId)
    peers.set(peerId, until)
    if (peers.size > MAX_PEERS_PER_SWARM) peers.delete(peers.keys().next().value!)
  }

  /** The peer left the swarm (it announced `stopped`). */
  forget (infoHash: string, peerId: string): void {
    const peers = this.swarms.get(infoHash)
    peers?.delete(peerId)
    if (peers?.size === 0) this.swarms.delete(infoHash)
  }

  /** Was this peer id admitted to this swarm, and is its admission still valid? */
  has (infoHash: string, peerId: string): boolean {
    const until = this.swarms.get(infoHash)?.get(peerId)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.forget(infoHash, peerId)
    return false
  }
}
