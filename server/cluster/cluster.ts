/**
 * This node's part among the server processes sharing one PostgreSQL catalogue: it registers
 * and heartbeats (clusterNodes), takes part in the leader election (leadership), talks to the
 * others (clusterChannel), seeds the torrents rendezvous hashing gives it, and forwards the
 * tracker's announces to the leader (announceForwarding). On SQLite there is one node: it
 * leads, seeds everything, and forwards nothing.
 */
import type { Database } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { SOLE_PLACEMENT, type SeedChange, type SeedPlacement } from '../seeder/seedPlacement.ts'
import { AnnounceForwarding } from './announceForwarding.ts'
import { ClusterChannel, type ClusterMessage } from './clusterChannel.ts'
import { ClusterNodes } from './clusterNodes.ts'
import { type Leadership, LockLeadership, SoleLeadership } from './leadership.ts'

export interface Cluster {
  /** This node's id (random at every start); 'sole' on SQLite. */
  nodeId: string
  /** Other nodes may share the catalogue (PostgreSQL); false: this is the one node (SQLite). */
  shared: boolean
  leadership: Leadership
  placement: SeedPlacement
  /** Forwards announces to the leader; undefined on a lone node. */
  forwarding: AnnounceForwarding | undefined
  /** The leader's NODE_URL as last seen (this node's own when it leads). */
  leaderUrl (): string | undefined
  /** Is this peer id another live node's seeder? */
  isOtherSeeder (peerId: string): boolean
  /** Send to the other nodes (nothing on a lone node). */
  send (kind: string, body: unknown): void
  /** Handle what the other nodes send of this kind. */
  on (kind: string, handler: (message: ClusterMessage) => void): void
  /** The live nodes changed, or messages may have been missed: look again at what this node seeds. */
  onRebalance (listener: () => void): void
  /** Messages from the other nodes may have been missed. */
  onReset (listener: () => void): void
  /** Another node (or this one) took the leadership: the tracker is there now. */
  onLeaderChange (listener: () => void): void
  /** This node's seeder runs with this peer id. */
  setSeederPeerId (peerId: string | undefined): Promise<void>
  /** The leader's chore: forget long-dead nodes. */
  forgetDead (): Promise<void>
  close (): Promise<void>
}

export interface ClusterOptions {
  database: Database
  /** DATABASE_URL (PostgreSQL). */
  url: string | undefined
  /** NODE_URL, or PUBLIC_URL. */
  nodeUrl: string
  timeoutMs: number
  /** The key forwarded announces carry (derived from the shared secret). */
  clusterKey: string
  log: Logger
}

export async function joinCluster (opts: ClusterOptions): Promise<Cluster> {
  return opts.database.dialect === 'postgres' && opts.url !== undefined ? await joinPostgres(opts, opts.url) : sole(opts.nodeUrl)
}

function sole (nodeUrl: string): Cluster {
  return {
    nodeId: 'sole',
    shared: false,
    leadership: new SoleLeadership(),
    placement: SOLE_PLACEMENT,
    forwarding: undefined,
    leaderUrl: () => nodeUrl,
    isOtherSeeder: () => false,
    send: () => {},
    on: () => {},
    onRebalance: () => {},
    onReset: () => {},
    onLeaderChange: () => {},
    setSeederPeerId: async () => {},
    forgetDead: async () => {},
    close: async () => {}
  }
}

async function joinPostgres (opts: ClusterOptions, url: string): Promise<Cluster> {
  const { database, nodeUrl, timeoutMs, clusterKey, log } = opts
  const nodes = new ClusterNodes({ db: database.db, url: nodeUrl, timeoutMs, log })
  await nodes.start()
  const leadership = new LockLeadership({ url, nodes, timeoutMs, log })
  const channel = new ClusterChannel({ url, db: database.db, nodeId: nodes.id, leads: () => leadership.leads, retryMs: nodes.intervalMs, log })
  const send = (kind: string, body: unknown): void => {
    channel.send(kind, body).catch(err => log.warn({ kind, err: (err as Error).message }, 'could not tell the other nodes'))
  }
  // A new leader says so at once: the others look now, not at their next heartbeat, so the
  // announces they forward find it a moment after the election.
  channel.on('leader', () => { nodes.refresh().catch(err => log.warn({ err: (err as Error).message }, 'could not read the live nodes')) })
  leadership.onChange(leads => { if (leads) send('leader', {}) })
  await channel.start()
  await leadership.start()
  // The leader as this node last saw it; never itself once it no longer leads.
  const leaderUrl = (): string | undefined => {
    if (leadership.leads) return nodeUrl
    const leader = nodes.leader
    return leader && leader.id !== nodes.id ? leader.url : undefined
  }
  const forwarding = new AnnounceForwarding({ leaderUrl, clusterKey, timeoutMs, log })
  return {
    nodeId: nodes.id,
    shared: true,
    leadership,
    placement: {
      mine: infoHash => nodes.ownerOf(infoHash) === nodes.id,
      get nodes () { return nodes.nodes.length },
      tell: (change: SeedChange) => send('seed', change)
    },
    forwarding,
    leaderUrl,
    isOtherSeeder: peerId => nodes.isSeederPeer(peerId),
    send,
    on: (kind, handler) => channel.on(kind, handler),
    onRebalance: listener => {
      nodes.onChange(listener)
      channel.onReset(listener)
    },
    onReset: listener => channel.onReset(listener),
    onLeaderChange: listener => nodes.onLeaderChange(listener),
    setSeederPeerId: async peerId => await nodes.setSeederPeerId(peerId),
    forgetDead: async () => await nodes.forgetDead(),
    async close () {
      await leadership.close()
      await channel.close()
      forwarding.close()
      await nodes.close().catch(err => log.warn({ err: (err as Error).message }, 'could not unregister this node; the others find it dead after CLUSTER_NODE_TIMEOUT'))
    }
  }
}
