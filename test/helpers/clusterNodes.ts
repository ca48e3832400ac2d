/**
 * Looking at server nodes that share one PostgreSQL catalogue from outside, through each node's
 * own address: which one leads, and which seeds each file.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { rendezvousOwner } from '../../server/cluster/rendezvous.ts'

export interface NodeAddress {
  name: string
  /** The node itself (its NODE_URL), not the proxy in front. */
  url: string
}

/** Whether `check` passes within `ms`; polls it, and throws its last error after that. */
export async function eventually (check: () => Promise<void>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > until) throw err
      await sleep(100)
    }
  }
}

/** The node's id and whether it leads, as its /readyz says. */
export const readyz = async (node: NodeAddress): Promise<{ id: string, leads: boolean }> => (await (await fetch(`${node.url}/readyz`)).json()).node

/** The nodes' ids, and which of them leads (exactly one). */
export async function leaderOf<N extends NodeAddress> (among: N[]): Promise<{ leader: N, ids: Map<N, string> }> {
  const states = await Promise.all(among.map(readyz))
  const leading = among.filter((_, i) => states[i]!.leads)
  assert.equal(leading.length, 1, `one node leads, not ${leading.map(n => n.name).join(', ') || 'none'}`)
  return { leader: leading[0]!, ids: new Map(among.map((n, i) => [n, states[i]!.id])) }
}

/** Each file (mediaId → infoHash) is active on exactly the node of `among` rendezvous hashing picks. */
export async function seededAsRendezvousSays (among: NodeAddress[], files: Map<string, string>): Promise<void> {
  const { ids } = await leaderOf(among)
  for (const [mediaId, infoHash] of files) {
    const owner = rendezvousOwner(infoHash, ids.values())
    const active = []
    for (const node of among) {
      const info = await (await fetch(`${node.url}/api/media/${mediaId}/info`)).json()
      if (info.seeding.state === 'active') active.push(node)
    }
    assert.deepEqual(active.map(n => ids.get(n)), [owner], `${mediaId} is seeded by exactly the node rendezvous hashing picks`)
  }
}
