/**
 * The tracker peers meet at, on the app's own port: WebSocket at /announce for browsers,
 * HTTP GET /announce for other clients. It only tracks torrents the server allows
 * (`allow`), it never answers scrapes, so it cannot be used to probe for other files, and a
 * peer speaks only for itself (peerOwnership.ts).
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import Server from 'bittorrent-tracker/server'
import type { Logger } from '../logger.ts'
import { httpPeerKey, ownershipRefusal, peersOf, type Swarm } from './peerOwnership.ts'

export const ANNOUNCE_PATH = '/announce'

const NO_SCRAPE = 'scrape is not offered by this tracker'
const UNKNOWN_TORRENT = 'unknown torrent: this tracker only tracks files stored on this server'
const SEEDER_PEER_ID = 'this peer id is the seeding server\'s own: announce with a peer id of your own'

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

  /**
   * A closed connection leaves the swarms with the peers it put there, and only those. The
   * library would announce `stopped` for the first peer id the connection ever named, which
   * may be another connection's peer in a swarm this one joined under another id.
   */
  protected override _onWebSocketClose (socket: TrackerSocket): void {
    for (const infoHash of [...socket.infoHashes ?? []]) {
      const swarm = this.torrents[infoHash] as (Swarm & { announce (params: object): void }) | undefined
      for (const peerId of swarm ? peersOf(swarm, socket) : []) swarm!.announce({ type: 'ws', event: 'stopped', numwant: 0, peer_id: peerId })
    }
    socket.peerId = null
    super._onWebSocketClose(socket)
  }
}

/**
 * One announce: `token` is the tracker capability that came with it (see the filter), which
 * private torrents need; public ones need none. `event` is the announce's (started, stopped,
 * completed; undefined for a periodic update). `fromSeeder`: it came with the seeder's key.
 * `address`: the client's address (ClientAddresses), of the HTTP request or of the WebSocket's
 * upgrade request; never one the client names (bittorrent-tracker's own `ip` is set from the
 * socket after the query is read, and its trustProxy, which reads X-Forwarded-For's left-most
 * hop, the client's own, is not used).
 */
export interface TrackerAnnounce {
  infoHash: string
  token: string | undefined
  peerId: string | undefined
  event: string | undefined
  fromSeeder: boolean
  address: string
}

export interface EmbeddedTrackerOptions {
  /** May this peer announce this infoHash? */
  allow: (announce: TrackerAnnounce) => Promise<boolean>
  /** Is this (hex) peer id a seeder's (this node's, or another live node's)? To say why its announces are refused to others. */
  isSeederPeer: (peerId: string) => boolean
  /** What the seeder's announce URLs carry as `seeder` (Catalog.seederTrackers). */
  seederKey: string
  log: Logger
}

/**
 * A WebSocket peer, with the capability its upgrade request carried, and the last capability
 * accepted with a message of its own for each infoHash: the messages webtorrent sends without
 * its announce options (its WebRTC answers) go with that one. `oipSeeder`: its URL carried the
 * seeder's key. `oipAddress`: its client's address, from the upgrade request. The rest is
 * bittorrent-tracker's.
 */
type TrackerSocket = { oipToken?: string, oipTokens?: Map<string, string>, oipSeeder?: boolean, oipAddress?: string, peerId?: string | null, infoHashes?: string[] | null }

/** `ip:port` as bittorrent-tracker writes a peer's address (IPv6 in brackets). */
const hostPort = (ip: string, port: unknown): string => `${ip.includes(':') ? `[${ip}]` : ip}:${String(port)}`

const queryParam = (url: string | undefined, name: string): string | undefined =>
  new URL(url ?? '/', 'http://x').searchParams.get(name) ?? undefined

export class EmbeddedTracker {
  private readonly server: ClosedTracker
  private readonly seederKey: Buffer
  /** The client address of each HTTP announce in flight (handleHttp), for the filter. */
  private readonly httpAddresses = new WeakMap<object, string>()
  announces = 0
  private closed = false

  constructor (opts: EmbeddedTrackerOptions) {
    this.seederKey = Buffer.from(opts.seederKey)
    this.server = new ClosedTracker({
      http: false,
      udp: false,
      stats: false,
      // clientTracking: dropAll closes every WebSocket when this node stops leading.
      ws: { noServer: true, clientTracking: true },
      filter: (infoHash, params, cb) => {
        // The token comes with the announce (an HTTP query's, or a WebSocket message's own
        // `token`: how the seeder sends its per-torrent capability), else it is the last one
        // this WebSocket had accepted for the infoHash, else its URL's. Never read
        // params.socket.upgradeReq here: it is gone after the first message; the URL's token
        // was put on the socket at upgrade.
        const text = (v: unknown): string | undefined => typeof v === 'string' ? v : undefined
        const socket = params.type === 'ws' ? params.socket as TrackerSocket : undefined
        const sent = text(params.token)
        const token = sent ?? socket?.oipTokens?.get(infoHash) ?? socket?.oipToken
        const fromSeeder = socket ? socket.oipSeeder === true : this.isSeederKey(text(params.seeder))
        const peerId = text(params.peer_id)
        const address = (socket ? socket.oipAddress : this.httpAddresses.get(params.httpReq as object)) ?? 'unknown'
        // The swarm lists the peer at its client's address (behind a proxy, not the proxy's).
        params.ip = address
        if (!socket && peerId) params.addr = httpPeerKey(hostPort(address, params.port), peerId)
        opts.allow({ infoHash, token, peerId, event: text(params.event), fromSeeder, address }).then(
          ok => {
            if (!ok) return cb(new Error(token === undefined && !fromSeeder && peerId !== undefined && opts.isSeederPeer(peerId) ? SEEDER_PEER_ID : UNKNOWN_TORRENT))
            // Judged here, after the last await: bittorrent-tracker announces to the swarm
            // within this tick, so no other message can change the swarm in between.
            const refusal = socket && ownershipRefusal(this.server.torrents[infoHash] as Swarm | undefined, params)
            if (refusal) return cb(new Error(refusal))
            // Kept only once accepted, so a socket holds no more tokens than it has torrents.
            if (socket && sent) (socket.oipTokens ??= new Map()).set(infoHash, sent)
            cb(null)
          },
          err => cb(err as Error)
        )
      }
    })
    this.server.on('warning', (err: Error) => opts.log.debug({ err: err.message }, 'tracker refused a request'))
    this.server.on('error', (err: Error) => opts.log.error({ err: err.message }, 'tracker error'))
    this.server.on('start', () => { this.announces++ })
    this.server.on('update', () => { this.announces++ })
  }

  /** HTTP announce (GET /announce?info_hash=…) from the client at `address` (ClientAddresses). */
  handleHttp (req: IncomingMessage, res: ServerResponse, address: string): void {
    this.httpAddresses.set(req, address)
    this.server.onHttpRequest(req, res, { action: 'announce' })
  }

  /**
   * WebSocket upgrade on /announce from the client at `address` (ClientAddresses); false when the
   * path is not ours (the caller rejects it).
   */
  handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, address: string): boolean {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname
    if (pathname !== ANNOUNCE_PATH) return false
    const token = queryParam(req.url, 'token')
    const fromSeeder = this.isSeederKey(queryParam(req.url, 'seeder'))
    this.server.ws.handleUpgrade(req, socket, head, ws => {
      ;(ws as TrackerSocket).oipToken = token
      ;(ws as TrackerSocket).oipSeeder = fromSeeder
      ;(ws as TrackerSocket).oipAddress = address
      this.server.ws.emit('connection', ws, req)
    })
    return true
  }

  /**
   * These peers may no longer be in this swarm (their admission ended): it forgets them, as if
   * they had announced `stopped`, so no other peer learns of them or gets their offers from us.
   * Their announces are refused from now on by `allow`.
   */
  removePeers (infoHash: string, peerIds: string[]): void {
    const swarm = this.server.torrents[infoHash] as (Swarm & { announce (params: object): void }) | undefined
    if (!swarm) return
    const leaving = new Set(peerIds)
    for (const key of swarm.peers.keys) {
      const peer = swarm.peers.peek(key)
      // A WebSocket peer is keyed by its peer id, an HTTP one by its address (httpPeerKey).
      if (peer?.peerId !== undefined && leaving.has(peer.peerId)) swarm.announce({ type: peer.type, event: 'stopped', numwant: 0, peer_id: peer.peerId, addr: key })
    }
  }

  /**
   * Forget every swarm and close every WebSocket peer (this node no longer leads): the peers
   * reconnect, and their announces reach the tracker that leads now.
   */
  dropAll (): void {
    for (const client of this.server.ws.clients) client.terminate()
    this.server.torrents = {}
  }

  private isSeederKey (key: string | undefined): boolean {
    const given = Buffer.from(key ?? '')
    return given.length === this.seederKey.length && timingSafeEqual(given, this.seederKey)
  }

  get open (): boolean {
    return !this.closed
  }

  async close (): Promise<void> {
    this.closed = true
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
