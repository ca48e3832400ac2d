// The part of bittorrent-tracker's server the embedded tracker uses (the package ships no types).
declare module 'bittorrent-tracker/server' {
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage, ServerResponse } from 'node:http'
  import type { Duplex } from 'node:stream'

  export interface AnnounceParams { info_hash: string, peer_id?: string, action?: number, [key: string]: unknown }
  export type Filter = (infoHash: string, params: AnnounceParams, cb: (err?: Error | null) => void) => void

  interface WsServer extends EventEmitter {
    /** The open WebSocket connections (ws's clientTracking). */
    clients: Set<{ terminate (): void }>
    handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: EventEmitter & { upgradeReq?: unknown }) => void): void
  }

  export default class Server extends EventEmitter {
    constructor (opts: { http?: boolean, udp?: boolean, ws?: boolean | { noServer: boolean, clientTracking?: boolean }, stats?: boolean, filter?: Filter, interval?: number })
    ws: WsServer
    torrents: Record<string, unknown>
    onHttpRequest (req: IncomingMessage, res: ServerResponse, opts?: { action?: string }): void
    /** A standalone tracker on its own port (tests run a second tracker this way). */
    listen (port: number, hostname: string, onListening?: () => void): void
    close (cb?: (err?: Error | null) => void): void
    protected _onWebSocketRequest (socket: { send (data: string): void }, opts: unknown, raw: string): void
    /** A WebSocket closed: its peer (the first peer id it named) leaves the swarms it joined. */
    protected _onWebSocketClose (socket: object): void
  }
}

// The client's WebSocket tracker: only its pool of sockets (one per tracker URL, shared by every torrent).
declare module 'bittorrent-tracker/websocket-tracker' {
  import type { EventEmitter } from 'node:events'

  const WebSocketTracker: { _socketPool: Record<string, EventEmitter> }
  export default WebSocketTracker
}
