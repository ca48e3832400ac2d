/**
 * Which node does the work that must happen once (the tracker, collecting orphans, expiring
 * uploads and shares, seeder.json): the one holding a PostgreSQL session advisory lock on a
 * connection of its own, as Immich does. Followers try for it every heartbeat; when the holder
 * dies its connection drops, PostgreSQL frees the lock and the next try wins. The holder pings
 * its connection every heartbeat and steps down the moment that fails, so it never leads on
 * after the database may have given the lock to another. On SQLite there is one node: it leads.
 */
import type pg from 'pg'
import { LOCK } from '../db/advisoryLock.ts'
import type { Logger } from '../logger.ts'
import type { ClusterNodes } from './clusterNodes.ts'
import { DedicatedConnection } from './dedicatedConnection.ts'

export interface Leadership {
  /** This node leads now. */
  readonly leads: boolean
  /** Told whenever this node starts or stops leading. */
  onChange (listener: (leads: boolean) => void): void
  close (): Promise<void>
}

/** The one node of an embedded (SQLite) catalogue. */
export class SoleLeadership implements Leadership {
  readonly leads = true
  onChange (): void {}
  async close (): Promise<void> {}
}

export interface LockLeadershipOptions {
  url: string
  nodes: ClusterNodes
  /** A node not seen this long is dead (ms): a vanished leader's session is ended by then. */
  timeoutMs: number
  log: Logger
}

export class LockLeadership implements Leadership {
  leads = false
  private readonly opts: LockLeadershipOptions
  private readonly connection: DedicatedConnection
  private readonly listeners: Array<(leads: boolean) => void> = []
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> = Promise.resolve()

  constructor (opts: LockLeadershipOptions) {
    this.opts = opts
    const seconds = Math.max(1, Math.ceil(opts.timeoutMs / 1000))
    this.connection = new DedicatedConnection({
      url: opts.url,
      name: `oip-leadership ${opts.nodes.id}`,
      queryTimeoutMs: opts.nodes.intervalMs * 2,
      // PostgreSQL ends the session of a leader that vanished without closing it (a machine off
      // the network) once keepalives go unanswered, about the node timeout later; the lock with it.
      setup: async client => {
        for (const [name, value] of [['tcp_keepalives_idle', seconds], ['tcp_keepalives_interval', 1], ['tcp_keepalives_count', 3]] as const) {
          await client.query(`SET ${name} = ${value}`)
        }
      },
      onLost: err => this.stepDown(`its connection to PostgreSQL broke: ${err.message}`)
    })
  }

  /** Try once now (a lone node leads before it serves), then every heartbeat. */
  async start (): Promise<void> {
    await this.tick()
    this.timer = setInterval(() => { this.ticking = this.ticking.then(async () => await this.tick()) }, this.opts.nodes.intervalMs)
    this.timer.unref()
  }

  onChange (listener: (leads: boolean) => void): void {
    this.listeners.push(listener)
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.ticking
    const led = this.leads
    this.leads = false
    // Closing the session frees the lock: another node takes it at its next try.
    await this.connection.close()
    if (led) await this.opts.nodes.setLeading(false).catch(() => {})
  }

  private async tick (): Promise<void> {
    let client: pg.Client
    try {
      client = await this.connection.client()
    } catch (err) {
      return this.opts.log.warn({ err: (err as Error).message }, 'cannot reach PostgreSQL to take part in the leader election')
    }
    try {
      if (this.leads) {
        await client.query('SELECT 1')
        return
      }
      const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS got', [LOCK.leadership])
      if (rows[0]?.got === true) await this.becomeLeader()
    } catch (err) {
      this.connection.drop(err as Error)
    }
  }

  private async becomeLeader (): Promise<void> {
    this.leads = true
    this.opts.log.info({ node: this.opts.nodes.id }, 'this node leads: it runs the tracker and the work done once for all nodes')
    await this.opts.nodes.setLeading(true).catch(err => this.opts.log.warn({ err: (err as Error).message }, 'could not write that this node leads'))
    this.tell()
  }

  private stepDown (why: string): void {
    if (!this.leads) return
    this.leads = false
    this.opts.log.warn({ node: this.opts.nodes.id, why }, 'this node no longer leads')
    this.opts.nodes.setLeading(false).catch(() => {})
    this.tell()
  }

  private tell (): void {
    for (const listener of this.listeners) listener(this.leads)
  }
}
