/**
 * Which node seeds which torrent. A lone node seeds them all; nodes sharing a catalogue split
 * them by rendezvous hashing over the live nodes (cluster/cluster.ts), and what one node learns
 * about a torrent another seeds (wanted, to start, pinned, no longer seeded) is told to it.
 */

/** What the node that seeds a torrent must hear from the others. */
export type SeedChange =
  | { kind: 'want', infoHash: string, announced: boolean }
  | { kind: 'start', infoHash: string }
  | { kind: 'pin', infoHash: string, pinned: boolean }
  | { kind: 'drop', infoHash: string }

export interface SeedPlacement {
  /** Does this node seed this torrent (as of its last look at the live nodes)? */
  mine (infoHash: string): boolean
  /** The live nodes sharing the torrents. */
  readonly nodes: number
  /** Tell the other nodes (the one that seeds it acts on it). */
  tell (change: SeedChange): void
}

export const SOLE_PLACEMENT: SeedPlacement = { mine: () => true, nodes: 1, tell: () => {} }
