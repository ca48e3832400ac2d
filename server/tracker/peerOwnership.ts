/**
 * Who may speak for a peer in a swarm. bittorrent-tracker believes every announce: any message
 * may name any peer id, so anyone could announce `stopped` for another peer and knock it out of
 * the swarm, or take its place and get the offers meant for it. Here a swarm's WebSocket peer
 * (keyed by peer id) belongs to the connection that announced it, while that connection is
 * open. (An HTTP peer is keyed by its address:port and peer id, see httpPeerKey. Who may
 * announce the seeder's own peer id is the access policy's call.)
 */

/** A swarm's peer as bittorrent-tracker keeps it (lib/server/swarm.js). */
export interface SwarmPeer {
  type?: string
  /** hex */
  peerId?: string
  socket?: { readyState?: number, destroyed?: boolean } | null
}

/** bittorrent-tracker's Swarm, the part read here: its peers by key (peer id, or address:port for HTTP). */
export interface Swarm {
  peers: { peek (key: string): SwarmPeer | undefined, keys: string[] }
}

/** A WebSocket announce as bittorrent-tracker parsed it. */
export interface ParsedAnnounce {
  /** hex */
  peer_id?: unknown
  socket?: unknown
}

const OPEN = 1

/** A connection that may still speak: open, and not yet closed as far as the tracker knows. */
const isLive = (socket: SwarmPeer['socket']): boolean => !!socket && socket.readyState === OPEN && !socket.destroyed

/** Why this WebSocket announce may not speak for the peer it names, or undefined when it may. */
export function ownershipRefusal (swarm: Swarm | undefined, params: ParsedAnnounce): string | undefined {
  const held = swarm?.peers.peek(String(params.peer_id))
  if (held && held.socket !== params.socket && isLive(held.socket)) return 'this peer id is already in this swarm over another connection: announce with a peer id of your own, or close that connection first'
  return undefined
}

/**
 * bittorrent-tracker keys an HTTP peer by address:port alone, so a `stopped` from anyone at the
 * same address (every client, behind a reverse proxy) naming its port would remove it. Keyed by
 * its peer id too, an announce only ever touches the peer it names.
 */
export const httpPeerKey = (addr: string, peerId: string): string => `${addr} ${peerId}`

/** The keys of the WebSocket peers this connection put in the swarm. */
export const peersOf = (swarm: Swarm, socket: unknown): string[] =>
  swarm.peers.keys.filter(key => swarm.peers.peek(key)?.socket === socket)
