/**
 * The tracker peers meet at, on the app's own port: WebSocket at /announce for browsers,
 * HTTP GET /announce for other clients. It only tracks torrents the server allows
 * (`allow`), and it never answers scrapes, so it cannot be used to probe for other files.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import Server from 'bittorrent-tracker/server'
import type { Logger } from '../logger.ts'

export const ANNOUNCE_PATH = '/announce'

const NO_SCRAPE = 'scrape is not offered by this tracker'

/**
 * bittorrent-tracker's server without scrape, which would list swarms by infoHash. HTTP
 * requests are always parsed as announces (see handleHttp) and UDP is off, so WebSocket
 * messages are the one way a scrape could come in.
 */
class ClosedTracker extends Server {
  protected override _onWebSocketRequest (socket: { send (data: string): void }, opts: unknown, raw: string): void {
    let action: unknown
    try { action = (JSON.parse(raw) as { action?: unknown }).action } catch {}
    if (action === 'scrape') return socket.send(JSON.stringify({ action: 'scrape', 'failure reason': NO_SCRAPE }))
    super._onWebSocketRequest(socket, opts, raw)
  }
}

export interface EmbeddedTrackerOptions {
  /**
   * May this peer announce this infoHash? `token` is the tracker capability from the announce
   * URL (`?token=`), which private torrents need; public ones need none. `event` is the
   * announce's (started, stopped, completed; undefined for a periodic update).
   */
  allow: (infoHash: string, token: string | undefined, peerId: string | undefined, event: string | undefined) => Promise<boolean>
  log: Logger
  trustProxy?: boolean
}

/** A WebSocket peer, with the capability its upgrade request carried. */
type TrackerSocket = { oipToken?: string }

const tokenOf = (url: string | undefined): string | undefined =>
  new URL(url ?? '/', 'http://x').searchParams.get('token') ?? undefined

export class EmbeddedTracker {
  private readonly server: ClosedTracker
  private readonly trustProxy: boolean
  announces = 0
  private closed = false

  constructor (opts: EmbeddedTrackerOptions) {
    this.trustProxy = opts.trustProxy ?? false
    this.server = new ClosedTracker({
      http: false,
      udp: false,
      stats: false,
      ws: { noServer: true },
      trustProxy: this.trustProxy,
      filter: (infoHash, params, cb) => {
        // Never read params.socket.upgradeReq here: it is gone after the first message; the
        // token was put on the socket at upgrade. HTTP announces keep their query's token.
        const token = params.type === 'ws' ? (params.socket as TrackerSocket).oipToken : (typeof params.token === 'string' ? params.token : undefined)
        const text = (v: unknown): string | undefined => typeof v === 'string' ? v : undefined
        opts.allow(infoHash, token, text(params.peer_id), text(params.event)).then(
          ok => cb(ok ? null : new Error('unknown torrent: this tracker only tracks files stored on this server')),
          err => cb(err as Error)
        )
      }
    })
    this.server.on('warning', (err: Error) => opts.log.debug({ err: err.message }, 'tracker refused a request'))
    this.server.on('error', (err: Error) => opts.log.error({ err: err.message }, 'tracker error'))
    this.server.on('start', () => { this.announces++ })
    this.server.on('update', () => { this.announces++ })
  }

  /** HTTP announce (GET /announce?info_hash=…). */
  handleHttp (req: IncomingMessage, res: ServerResponse): void {
    this.server.onHttpRequest(req, res, { action: 'announce', trustProxy: this.trustProxy })
  }

  /** WebSocket upgrade on /announce; false when the path is not ours (the caller rejects it). */
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname
    if (pathname !== ANNOUNCE_PATH) return false
    const token = tokenOf(req.url)
    this.server.ws.handleUpgrade(req, socket, head, ws => {
      ;(ws as TrackerSocket).oipToken = token
      this.server.ws.emit('connection', ws, req)
    })
    return true
  }

  get open (): boolean {
    return !this.closed
  }

  async close (): Promise<void> {
    this.closed = true
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
