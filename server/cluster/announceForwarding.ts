/**
 * A follower's way to the tracker, which runs on the leader alone (bittorrent-tracker keeps its
 * swarms in memory and relays WebRTC offers within one process): an HTTP announce is proxied
 * to the leader's NODE_URL, a WebSocket is piped to it byte for byte once its upgrade request
 * went ahead. Either way the client's address goes along in a header the leader believes only
 * with the cluster key (ClientAddresses), since the tracker binds swarm admissions to it.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { CLUSTER_CLIENT_HEADER, CLUSTER_KEY_HEADER } from '../access/clientAddress.ts'
import type { Logger } from '../logger.ts'

export interface AnnounceForwardingOptions {
  /** The leader's NODE_URL, while one is known. */
  leaderUrl: () => string | undefined
  clusterKey: string
  /** A leader that does not answer this long (ms) is given up on: the client is told to try again. */
  timeoutMs: number
  log: Logger
}

const UNAVAILABLE = JSON.stringify({ error: { code: 'tracker_unavailable', message: 'The tracker is moving to another node (one went down). Announce again in a few seconds.' } })
/** Headers of one connection, not passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'])

export class AnnounceForwarding {
  private readonly opts: AnnounceForwardingOptions
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

  constructor (opts: AnnounceForwardingOptions) {
    this.opts = opts
  }

  /** GET /announce from the client at `address`: the leader's answer, as it sent it. */
  http (req: IncomingMessage, res: ServerResponse, address: string): void {
    const target = this.target(req)
    if (!target) return unavailable(res)
    const secure = target.protocol === 'https:'
    const upstream = (secure ? https : http).request(target, {
      method: 'GET',
      agent: secure ? this.agents.https : this.agents.http,
      headers: { ...this.ownHeaders(address), 'user-agent': req.headers['user-agent'] ?? '' },
      timeout: this.opts.timeoutMs
    })
    upstream.on('response', answer => {
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)))
      res.writeHead(answer.statusCode ?? 502, headers)
      answer.pipe(res)
    })
    upstream.on('timeout', () => upstream.destroy(new Error('the leader did not answer in time')))
    upstream.on('error', err => {
      this.opts.log.debug({ err: err.message }, 'could not forward an announce to the leader')
      if (!res.headersSent) unavailable(res)
      else res.destroy()
    })
    res.on('close', () => upstream.destroy())
    upstream.end()
  }

  /** A WebSocket upgrade on /announce from the client at `address`: piped to the leader's. */
  upgrade (req: IncomingMessage, socket: Duplex, head: Buffer, address: string): void {
    const target = this.target(req)
    if (!target) return refuse(socket)
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80))
    const upstream = target.protocol === 'https:'
      ? tls.connect({ host: target.hostname, port, servername: net.isIP(target.hostname) ? undefined : target.hostname })
      : net.connect({ host: target.hostname, port })
    const done = (): void => { upstream.destroy(); socket.destroy() }
    upstream.setTimeout(this.opts.timeoutMs, () => { refuse(socket); upstream.destroy() })
    upstream.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      upstream.setTimeout(0)
      // The client's request as it came (its Sec-WebSocket-* headers answer the leader's), with
      // our Host and the address it came from; anything it said in our headers is dropped.
      const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!.toLowerCase()
        if (name === 'host' || name.startsWith('x-oip-')) continue
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      }
      for (const [name, value] of Object.entries(this.ownHeaders(address))) lines.push(`${name}: ${value}`)
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
      if (head.length > 0) upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on('error', err => {
      this.opts.log.debug({ err: err.message }, 'could not pipe a tracker WebSocket to the leader')
      if (upstream.bytesRead === 0) refuse(socket)
      done()
    })
    upstream.on('close', done)
    socket.on('error', done)
    socket.on('close', done)
  }

  close (): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  /** The leader's URL for this request's path and query. */
  private target (req: IncomingMessage): URL | undefined {
    const leader = this.opts.leaderUrl()
    return leader === undefined ? undefined : new URL(`${leader}${req.url ?? '/'}`)
  }

  private ownHeaders (address: string): Record<string, string> {
    return { [CLUSTER_KEY_HEADER]: this.opts.clusterKey, [CLUSTER_CLIENT_HEADER]: address }
  }
}

/** No leader to forward to (yet): try again shortly. */
export function unavailable (res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' }).end(UNAVAILABLE)
}

/** The same answer before an upgrade: a plain HTTP response on the raw socket. */
export function refuse (socket: Duplex): void {
  if (socket.writable) socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 2\r\ncontent-length: ${Buffer.byteLength(UNAVAILABLE)}\r\nconnection: close\r\n\r\n${UNAVAILABLE}`)
}
