/**
 * Who may speak for a peer in a swarm. bittorrent-tracker believes every announce: any message
 * may name any peer id, so anyone could announce `stopped` for another peer and knock it out of
 * the swarm, or take its place and get the offers meant for it. Here a swarm's entry belongs to
 * whoever made it: a WebSocket peer (keyed by peer id) to its connection, an HTTP peer (keyed by
 * address:port) to its peer id. And the server's own seeder's peer id belongs to the seeder alone.
 */

/** A swarm's peer as bittorrent-tracker keeps it (lib/server/swarm.js). */
export interface SwarmPeer {
  type: string
  peerId: string
  socket?: { readyState?: number, destroyed?: boolean } | null
}

/** bittorrent-tracker's Swarm, the part read here: its peers by key (peer id, or address:port for HTTP). */
export interface Swarm {
  peers: { peek (key: string): SwarmPeer | undefined, keys: string[] }
}

/** An announce as bittorrent-tracker parsed it. */
export interface ParsedAnnounce {
  type?: unknown
  /** hex */
  peer_id?: unknown
  /** The HTTP peer's address:port. */
  addr?: unknown
  socket?: unknown
}

const OPEN = 1

/** A connection that may still speak: open, and not yet closed as far as the tracker knows. */
const isLive = (socket: SwarmPeer['socket']): boolean => !!socket && socket.readyState === OPEN && !socket.destroyed

/**
 * Why this announce may not speak for the peer it names, or undefined when it may. `fromSeeder`:
 * it came with the seeder's key.
 */
export function ownershipRefusal (swarm: Swarm | undefined, params: ParsedAnnounce, fromSeeder: boolean, seederPeerId: string | undefined): string | undefined {
  const peerId = params.peer_id
  if (peerId === seederPeerId && !fromSeeder) return 'this peer id is the seeding server\'s own: announce with a peer id of your own'
  if (params.type === 'ws') {
    const held = swarm?.peers.peek(String(peerId))
    if (held && held.socket !== params.socket && isLive(held.socket)) return 'this peer id is already in this swarm over another connection: announce with a peer id of your own, or close that connection first'
    return undefined
  }
  const atAddress = swarm?.peers.peek(String(params.addr))
  if (atAddress && atAddress.peerId !== peerId) return 'another peer is announced at this address and port: announce with your own port, or wait until that peer stops'
  if (swarm?.peers.peek(String(peerId))?.type === 'ws') return 'this peer id is a WebSocket peer\'s in this swarm: announce with a peer id of your own'
  return undefined
}

/** The keys of the WebSocket peers this connection put in the swarm. */
export const peersOf = (swarm: Swarm, socket: unknown): string[] =>
  swarm.peers.keys.filter(key => swarm.peers.peek(key)?.socket === socket)
