/**
 * Messages between the nodes, through PostgreSQL's LISTEN/NOTIFY on a connection of its own:
 * what one node learns that another must act on (a torrent wanted here and seeded there, a
 * swarm admission the tracker made). Delivered to every listening node, in commit order, at
 * most once: a node whose connection broke may have missed some, so it is told (`onReset`)
 * and makes up for it (forgets what it learned, looks again).
 */
import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { DedicatedConnection } from './dedicatedConnection.ts'

const CHANNEL = 'oip_cluster'
/** NOTIFY's payload limit is 8000 bytes; ours are a few hundred. */
const MAX_PAYLOAD = 7900

/** A message as sent: its kind, who sent it, and whether the sender led when it did. */
export interface ClusterMessage {
  kind: string
  from: string
  fromLeader: boolean
  body: unknown
}

export interface ClusterChannelOptions {
  url: string
  db: Db
  nodeId: string
  /** Does this node lead now (stamped on what it sends)? */
  leads: () => boolean
  /** How long to wait before listening again after the connection broke (ms). */
  retryMs: number
  log: Logger
}

export class ClusterChannel {
  private readonly opts: ClusterChannelOptions
  private readonly connection: DedicatedConnection
  private readonly handlers = new Map<string, (message: ClusterMessage) => void>()
  private readonly resetListeners: Array<() => void> = []
  private retry: NodeJS.Timeout | undefined
  private sending: Promise<void> = Promise.resolve()
  private closed = false

  constructor (opts: ClusterChannelOptions) {
    this.opts = opts
    this.connection = new DedicatedConnection({
      url: opts.url,
      name: `oip-channel ${opts.nodeId}`,
      queryTimeoutMs: Math.max(opts.retryMs * 2, 1000),
      setup: async client => {
        client.on('notification', n => { if (n.channel === CHANNEL && n.payload) this.receive(n.payload) })
        await client.query(`LISTEN ${CHANNEL}`)
      },
      onLost: err => {
        if (this.closed) return
        this.opts.log.warn({ err: err.message }, 'lost the cluster channel: listening again, and forgetting what may have been missed')
        for (const listener of this.resetListeners) listener()
        clearTimeout(this.retry)
        this.retry = setTimeout(() => { void this.listen() }, opts.retryMs)
        this.retry.unref()
      }
    })
  }

  async start (): Promise<void> {
    await this.listen()
  }

  /** Handle messages of this kind (one handler per kind); a node never gets its own. */
  on (kind: string, handler: (message: ClusterMessage) => void): void {
    this.handlers.set(kind, handler)
  }

  /** Told when messages may have been missed. */
  onReset (listener: () => void): void {
    this.resetListeners.push(listener)
  }

  /**
   * Send to every other node (through the pool: any connection can NOTIFY), after what this node
   * sent before: one at a time, so they arrive in the order sent.
   */
  async send (kind: string, body: unknown): Promise<void> {
    const payload = JSON.stringify({ kind, from: this.opts.nodeId, fromLeader: this.opts.leads(), body } satisfies ClusterMessage)
    if (payload.length > MAX_PAYLOAD) throw new Error(`a cluster message of ${payload.length} bytes is over NOTIFY's limit`)
    const sent = this.sending.then(async () => { await sql`SELECT pg_notify(${CHANNEL}, ${payload})`.execute(this.opts.db) })
    this.sending = sent.catch(() => {})
    await sent
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    await this.connection.close()
  }

  private async listen (): Promise<void> {
    await this.connection.client().catch(() => {})
  }

  private receive (payload: string): void {
    let message: ClusterMessage
    try {
      message = JSON.parse(payload) as ClusterMessage
    } catch {
      return
    }
    if (message.from === this.opts.nodeId) return
    try {
      this.handlers.get(message.kind)?.(message)
    } catch (err) {
      this.opts.log.error({ kind: message.kind, err: (err as Error).message }, 'a cluster message could not be handled')
    }
  }
}
