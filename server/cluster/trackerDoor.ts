/**
 * The way to the tracker on every node, for /announce over HTTP and WebSocket: the leader
 * answers with its own tracker, a follower forwards to the leader's (announceForwarding.ts).
 * An announce another node forwarded is never forwarded again: two nodes that each took the
 * other for the leader, for a moment, would pass it back and forth.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { ANNOUNCE_PATH, type EmbeddedTracker } from '../tracker/embeddedTracker.ts'
import { type AnnounceForwarding, refuse, unavailable } from './announceForwarding.ts'
import type { Leadership } from './leadership.ts'

export interface TrackerDoorOptions {
  tracker: EmbeddedTracker
  leadership: Leadership
  /** undefined on a lone node (SQLite), which always leads. */
  forwarding: AnnounceForwarding | undefined
  /** Did another node forward this request? */
  fromNode: (req: IncomingMessage) => boolean
}

export class TrackerDoor {
  private readonly opts: TrackerDoorOptions

  constructor (opts: TrackerDoorOptions) {
    this.opts = opts
  }

  handleHttp (req: IncomingMessage, res: ServerResponse, address: string): void {
    const { tracker, leadership, forwarding, fromNode } = this.opts
    if (leadership.leads) tracker.handleHttp(req, res, address)
    else if (forwarding && !fromNode(req)) forwarding.http(req, res, address)
    else unavailable(res)
  }

  /** A WebSocket upgrade; false when the path is not the tracker's (the caller rejects it). */
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, address: string): boolean {
    const { tracker, leadership, forwarding, fromNode } = this.opts
    if (new URL(req.url ?? '/', 'http://x').pathname !== ANNOUNCE_PATH) return false
    if (leadership.leads) return tracker.handleUpgrade(req, socket, head, address)
    if (forwarding && !fromNode(req)) forwarding.upgrade(req, socket, head, address)
    else refuse(socket)
    return true
  }
}
