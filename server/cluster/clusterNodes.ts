/**
 * The server processes sharing one PostgreSQL catalogue: each registers at start (a random id,
 * new every start, and the URL the others reach it at), heartbeats, and reads who else is
 * live. A node whose heartbeat is older than the timeout is dead. Heartbeats are stamped and
 * judged by the database's clock, so the nodes' own clocks may disagree.
 */
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { rendezvousOwner } from './rendezvous.ts'

/** The database's time in ms (clock_timestamp: it moves within a transaction too). */
const NOW = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`

/** Rows of nodes dead this many timeouts are removed (by the leader). */
const FORGET_AFTER_TIMEOUTS = 20

export interface ClusterNode {
  id: string
  url: string
  /** Since when it leads (ms, the database's clock), while it does. */
  leadingSince: number | null
  seederPeerId: string | null
}

export interface ClusterNodesOptions {
  db: Db
  /** NODE_URL (or PUBLIC_URL). */
  url: string
  timeoutMs: number
  log: Logger
}

export class ClusterNodes {
  readonly id = randomUUID()
  private readonly opts: ClusterNodesOptions
  private live: ClusterNode[] = []
  private readonly listeners: Array<() => void> = []
  private readonly leaderListeners: Array<() => void> = []
  private timer: NodeJS.Timeout | undefined
  private beating: Promise<void> = Promise.resolve()

  constructor (opts: ClusterNodesOptions) {
    this.opts = opts
  }

  /** How often this node heartbeats and looks at the others (ms). */
  get intervalMs (): number {
    return Math.max(100, Math.round(this.opts.timeoutMs / 4))
  }

  /**
   * Register, then heartbeat. An earlier run at this URL (killed, so never unregistered) is
   * removed at once: its torrents come back here without waiting for its heartbeat to age.
   */
  async start (): Promise<void> {
    const { db, url } = this.opts
    await db.deleteFrom('cluster_nodes').where('url', '=', url).execute()
    await db.insertInto('cluster_nodes').values({ id: this.id, url, started_at: NOW, heartbeat_at: NOW, leading_since: null, seeder_peer_id: null }).execute()
    await this.look()
    this.timer = setInterval(() => { this.beating = this.beat() }, this.intervalMs)
    this.timer.unref()
  }

  /** Told when the live nodes change (one came, one went). */
  onChange (listener: () => void): void {
    this.listeners.push(listener)
  }

  /** Told when another node (or this one) took the leadership. */
  onLeaderChange (listener: () => void): void {
    this.leaderListeners.push(listener)
  }

  /** Look at the live nodes now (a node said it leads), not at the next heartbeat. */
  async refresh (): Promise<void> {
    await this.look()
  }

  /** The live nodes, this one always among them (as of the last look). */
  get nodes (): readonly ClusterNode[] {
    return this.live
  }

  /** The live node this torrent belongs to (rendezvous hashing over the live nodes). */
  ownerOf (infoHash: string): string {
    return rendezvousOwner(infoHash, this.live.map(n => n.id)) ?? this.id
  }

  /** The leader as the last look saw it: the live node that took the leadership last. */
  get leader (): ClusterNode | undefined {
    let leader: ClusterNode | undefined
    for (const n of this.live) if (n.leadingSince !== null && (!leader || n.leadingSince > leader.leadingSince!)) leader = n
    return leader
  }

  /** Is this peer id a live node's seeder? */
  isSeederPeer (peerId: string): boolean {
    return this.live.some(n => n.seederPeerId === peerId)
  }

  /** This node took the leadership (or gave it up): written now, so the others find it at their next look. */
  async setLeading (leading: boolean): Promise<void> {
    await this.opts.db.updateTable('cluster_nodes').set({ leading_since: leading ? NOW : null }).where('id', '=', this.id).execute()
    await this.look()
  }

  async setSeederPeerId (peerId: string | undefined): Promise<void> {
    await this.opts.db.updateTable('cluster_nodes').set({ seeder_peer_id: peerId ?? null }).where('id', '=', this.id).execute()
    await this.look()
  }

  /** The leader's chore: forget the rows of nodes long dead. */
  async forgetDead (): Promise<void> {
    await this.opts.db.deleteFrom('cluster_nodes').where('heartbeat_at', '<', sql<number>`${NOW} - ${this.opts.timeoutMs * FORGET_AFTER_TIMEOUTS}`).execute()
  }

  /** Unregister (a clean stop): the others take over this node's torrents at their next look. */
  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.beating
    await this.opts.db.deleteFrom('cluster_nodes').where('id', '=', this.id).execute()
  }

  private async beat (): Promise<void> {
    try {
      const { numUpdatedRows } = await this.opts.db.updateTable('cluster_nodes').set({ heartbeat_at: NOW }).where('id', '=', this.id).executeTakeFirst()
      // Removed as long dead (this process was stopped for a long time): register again.
      if (numUpdatedRows === 0n) await this.opts.db.insertInto('cluster_nodes').values({ id: this.id, url: this.opts.url, started_at: NOW, heartbeat_at: NOW, leading_since: null, seeder_peer_id: null }).execute()
      await this.look()
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not heartbeat in the catalogue; the other nodes may take over this node\'s torrents')
    }
  }

  /** Read the live nodes; tell the listeners when they changed. */
  private async look (): Promise<void> {
    const rows = await this.opts.db.selectFrom('cluster_nodes').select(['id', 'url', 'leading_since', 'seeder_peer_id'])
      .where(eb => eb.or([eb('id', '=', this.id), eb('heartbeat_at', '>=', sql<number>`${NOW} - ${this.opts.timeoutMs}`)]))
      .orderBy('id').execute()
    const live = rows.map(r => ({ id: r.id, url: r.url, leadingSince: r.leading_since === null ? null : Number(r.leading_since), seederPeerId: r.seeder_peer_id }))
    const ids = (nodes: ClusterNode[]): string => nodes.map(n => n.id).join()
    const changed = ids(live) !== ids(this.live)
    const leaderBefore = this.leader?.id
    this.live = live
    if (changed) for (const listener of this.listeners) listener()
    if (this.leader !== undefined && this.leader.id !== leaderBefore) for (const listener of this.leaderListeners) listener()
  }
}
