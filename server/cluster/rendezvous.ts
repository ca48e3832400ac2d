/**
 * Rendezvous (highest random weight) hashing: which node a torrent belongs to. Every node that
 * sees the same live nodes picks the same one, and when a node comes or goes only the torrents
 * it wins or held move.
 */
import { createHash } from 'node:crypto'

const weight = (nodeId: string, key: string): bigint =>
  createHash('sha256').update(`${nodeId}\n${key}`).digest().readBigUInt64BE(0)

/** The node of `nodeIds` that `key` (an infoHash) belongs to; undefined when there is none. */
export function rendezvousOwner (key: string, nodeIds: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestWeight = -1n
  for (const id of nodeIds) {
    const w = weight(id, key)
    if (w > bestWeight || (w === bestWeight && id > best!)) [best, bestWeight] = [id, w]
  }
  return best
}
