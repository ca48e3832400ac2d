/**
 * The tracker peers meet at, on the app's own port: WebSocket at /announce for browsers,
 * HTTP GET /announce for other clients. It only tracks torrents the server allows
 * (`allow`), and it never answers scrapes, so it cannot be used to probe for other files.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import Server, { type AnnounceParams } from 'bittorrent-tracker/server'
import type { Logger } from '../logger.ts'

export const ANNOUNCE_PATH = '/announce'

/** bittorrent-tracker's server without scrape: scrape would list swarms by infoHash. */
class ClosedTracker extends Server {
  protected override _onScrape (_params: AnnounceParams, cb: (err: Error | null) => void): void {
    cb(new Error('scrape is not offered by this tracker'))
  }
}

export interface EmbeddedTrackerOptions {
  /** May peers announce this infoHash? Only for torrents this server stores and shares. */
  allow: (infoHash: string) => Promise<boolean>
  log: Logger
  trustProxy?: boolean
}

export class EmbeddedTracker {
  private readonly server: ClosedTracker
  private readonly trustProxy: boolean
  announces = 0

  constructor (opts: EmbeddedTrackerOptions) {
    this.trustProxy = opts.trustProxy ?? false
    this.server = new ClosedTracker({
      http: false,
      udp: false,
      stats: false,
      ws: { noServer: true },
      trustProxy: this.trustProxy,
      filter: (infoHash, _params, cb) => {
        // Never read params.socket.upgradeReq here: it is gone after the first message.
        opts.allow(infoHash).then(
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
    this.server.ws.handleUpgrade(req, socket, head, ws => this.server.ws.emit('connection', ws, req))
    return true
  }

  async close (): Promise<void> {
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
