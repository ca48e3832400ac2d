/**
 * A private torrent's gate: it is served only to the peers its record admits (the tracker's
 * admitted peers), any other wire cut at the handshake before a byte of ours goes out, and
 * its announces carry a tracker capability for that torrent alone, renewed before it expires.
 */
import type { Torrent, Wire } from 'webtorrent'
import type { Logger } from '../logger.ts'
import { trackerClient } from './trackerClient.ts'

/** A tracker capability and when it expires (ms). */
export interface TrackerToken {
  token: string
  expiresAt: number
}

/** What a private torrent has beyond a public one: who may connect, and its own capability. */
export interface PrivateAccess {
  /** The key whose record the torrent is (what it served is theirs to see). */
  owner: string
  /**
   * May the peer with this (hex) peer id be served, connected from `address` (null: over
   * WebRTC, see AccessPolicy.admitsPeer)?
   */
  admits: (peerId: string, address: string | null) => boolean
  /** A fresh tracker capability for this torrent alone. */
  trackerToken: () => Promise<TrackerToken>
}

export class PrivateGate {
  /** The capability its announces carry now (while active). */
  token: string | undefined
  private readonly access: PrivateAccess
  private readonly mediaId: string
  private readonly log: Logger
  private renewal: NodeJS.Timeout | undefined

  constructor (access: PrivateAccess, mediaId: string, log: Logger) {
    this.access = access
    this.mediaId = mediaId
    this.log = log
  }

  /** The key whose record the torrent is. */
  get owner (): string {
    return this.access.owner
  }

  /**
   * Is this wire's peer admitted? If not, the peer is destroyed right here, inside the torrent's
   * 'wire' event: webtorrent emits it on the remote's handshake, before it sends our handshake
   * (to incoming peers), the bitfield or any piece, and it checks after the event whether the
   * peer still has a swarm. Destroying only the wire would not do: wire.destroy() ends its
   * writable side, and what webtorrent writes next would still go out.
   */
  admitted (torrent: Torrent, wire: Wire): boolean {
    if (wire.type === 'webSeed') return true
    const { _peers: peers } = torrent as unknown as { _peers: Map<string, { wire: Wire | null }> }
    const id = [...peers].find(([, peer]) => peer.wire === wire)?.[0]
    if (this.admits(wire, id)) return true
    // Every peer is registered before its handshake is read; the wire alone is a last resort.
    if (id !== undefined) torrent.removePeer(id)
    else wire.destroy()
    return false
  }

  /**
   * A TCP peer: its handshake's peer id, admitted from the address it connects from. A WebRTC
   * peer: the peer id the tracker relayed its offer under (its key among the torrent's peers),
   * admitted, and named again by its handshake; a handshake naming another admitted peer's id
   * would keep the connection open after its own admission ended.
   */
  private admits (wire: Wire, id: string | undefined): boolean {
    const { peerId, remoteAddress } = wire
    if (peerId === undefined) return false
    if (wire.type === 'webrtc') return id === peerId && this.access.admits(peerId, null)
    return remoteAddress !== undefined && this.access.admits(peerId, remoteAddress)
  }

  /**
   * Take a fresh tracker capability, and renew it at its half-life while `stillActive` finds the
   * torrent active, announcing at once with the new one (so a refused announce shows in the
   * tracker stats now, not an interval later).
   */
  async renew (stillActive: () => Torrent | undefined): Promise<void> {
    const { token, expiresAt } = await this.access.trackerToken()
    this.token = token
    clearTimeout(this.renewal)
    this.renewal = setTimeout(() => {
      const torrent = stillActive()
      if (!torrent) return
      this.renew(stillActive).then(
        () => trackerClient(torrent)?.update(),
        err => this.log.error({ mediaId: this.mediaId, err: (err as Error).message }, 'could not renew a private torrent\'s tracker capability')
      )
    }, (expiresAt - Date.now()) / 2).unref()
  }

  /** The torrent went idle: no more renewals. */
  stop (): void {
    clearTimeout(this.renewal)
  }
}
