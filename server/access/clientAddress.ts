/**
 * The address a request came from: the one place that decides it, for every door that keys on
 * it (per-address limits, byte response slots, the tracker's swarm admissions). It is the
 * socket's address, unless that is a trusted proxy (TRUST_PROXY): then X-Forwarded-For is read
 * from the right, past every trusted hop, and the first hop not trusted is the client. Whatever
 * an untrusted client puts in the header is left of that hop, so it is never read; a header
 * from a client that is not a trusted proxy is ignored whole. A request another node forwarded
 * (the tracker's announces: cluster/announceForwarding.ts) names its client in a header of its
 * own, believed only with the key every node derives from the shared secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import net from 'node:net'

/** A forwarding node's key (cluster/announceForwarding.ts), and the client address it vouches for. */
export const CLUSTER_KEY_HEADER = 'x-oip-cluster-key'
export const CLUSTER_CLIENT_HEADER = 'x-oip-client-address'

/** One entry of TRUST_PROXY: an address, or a network (CIDR). */
export interface ProxyRange {
  network: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

const LOOPBACK: ProxyRange[] = [
  { network: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { network: '::1', prefix: 128, family: 'ipv6' }
]

/** An IPv4 address as a dual-stack socket shows it (`::ffff:1.2.3.4`) is that IPv4 address. */
export function normalizeAddress (address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1]! : address.toLowerCase()
}

/**
 * TRUST_PROXY's value: a comma list of proxy addresses and CIDRs, `loopback` for 127.0.0.0/8
 * and ::1. Empty (the default): no proxy is trusted. Throws on an entry that is none of these.
 */
export function parseTrustProxy (raw: string | undefined): ProxyRange[] {
  return (raw ?? '').split(',').map(s => s.trim()).filter(Boolean).flatMap(entry => {
    if (entry.toLowerCase() === 'loopback') return LOOPBACK
    const [address = '', prefixText, ...rest] = entry.split('/')
    const network = normalizeAddress(address)
    const version = net.isIP(network)
    const bits = version === 4 ? 32 : 128
    const prefix = prefixText === undefined ? bits : Number(prefixText)
    if (version === 0 || rest.length > 0 || !/^\d+$/.test(prefixText ?? '0') || prefix > bits) {
      throw new Error(`TRUST_PROXY must be a comma list of the addresses or networks of your reverse proxies (e.g. 10.0.0.5, 10.0.0.0/8, loopback), got "${entry}"`)
    }
    return [{ network, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }]
  })
}

/** What a request has that tells where it came from (node:http's IncomingMessage has both). */
export interface RequestOrigin {
  socket: { remoteAddress?: string | undefined }
  headers: IncomingHttpHeaders
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

export class ClientAddresses {
  private readonly proxies = new net.BlockList()
  private readonly trustsAny: boolean
  private readonly clusterKey: Buffer | undefined

  /** `clusterKey`: what a request forwarded by another node carries (none: nothing is forwarded to this one). */
  constructor (trusted: ProxyRange[], clusterKey?: string) {
    for (const { network, prefix, family } of trusted) this.proxies.addSubnet(network, prefix, family)
    this.trustsAny = trusted.length > 0
    this.clusterKey = clusterKey === undefined ? undefined : digest(clusterKey)
  }

  /** Did another node of the cluster forward this request (it carries the cluster's key)? */
  fromNode (req: Pick<RequestOrigin, 'headers'>): boolean {
    const given = req.headers[CLUSTER_KEY_HEADER]
    return this.clusterKey !== undefined && typeof given === 'string' && timingSafeEqual(digest(given), this.clusterKey)
  }

  /** The client's address ('unknown' when the socket is already gone). */
  of (req: RequestOrigin): string {
    const vouched = req.headers[CLUSTER_CLIENT_HEADER]
    if (typeof vouched === 'string' && net.isIP(vouched) !== 0 && this.fromNode(req)) return normalizeAddress(vouched)
    const { remoteAddress } = req.socket
    if (remoteAddress === undefined) return 'unknown'
    let client = normalizeAddress(remoteAddress)
    if (!this.trustsAny) return client
    const hops = [req.headers['x-forwarded-for'] ?? []].flat().join(',').split(',').map(s => s.trim()).filter(Boolean)
    while (hops.length > 0 && this.trusts(client)) {
      const hop = normalizeAddress(hops.pop()!)
      // Proxies write addresses: anything else came from a client, so the hop that passed it on
      // is the last one known (for a trusted proxy that forwarded it unchecked, the proxy's own).
      if (net.isIP(hop) === 0) break
      client = hop
    }
    return client
  }

  private trusts (address: string): boolean {
    const version = net.isIP(address)
    return version !== 0 && this.proxies.check(address, version === 4 ? 'ipv4' : 'ipv6')
  }
}
