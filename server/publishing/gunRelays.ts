/**
 * The GUN relays (GUN_PEERS) as the server uses them, through the `gun` package: put sealed
 * nodes (or tombstones) under their souls, and read a soul's node as the relays have it. Each
 * use is a fresh gun client that keeps nothing (no radisk or its fs store, localStorage, stats
 * file in gun's package folder, UDP multicast or AXE) and is closed after: the server holds no
 * graph that grows with every record, and a read answers what a relay has, never a copy of our
 * own. A relay acknowledges a put only once its storage has it (one in memory never does), and
 * answers nothing for a soul it lacks: so a put counts once another client reads the very node
 * back from a relay, and every wait has its own timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_GUN_CIPHERTEXT, type GunRecordNode } from '../../shared/gunRecord.ts'
import type { Logger } from '../logger.ts'

/** What the publisher and the read endpoint need of the relays (tests may play a broken one). */
export interface GunNetwork {
  /** Puts each node (null: a tombstone) under its soul; the error of each that failed, by soul. */
  putAll (nodes: Array<{ soul: string, node: GunRecordNode | null }>): Promise<Map<string, string>>
  /** The node a relay has at this soul, without gun's metadata; undefined when none has one. */
  read (soul: string): Promise<Record<string, unknown> | undefined>
}

interface GunAck { err?: unknown, put?: unknown }
interface GunChain {
  get (key: string, cb?: (ack: GunAck) => void): GunChain
  put (data: object, ack?: (ack: GunAck) => void): GunChain
}
interface GunPeer { wire?: { close?: () => void, readyState?: number } | null, defer?: ReturnType<typeof setTimeout> }
type GunClient = GunChain & { _: { opt: { peers: Record<string, GunPeer> } } }
type GunFactory = (opts: Record<string, unknown>) => GunClient

/** Nothing kept, nothing written, no discovery beyond GUN_PEERS. */
const QUIET = { radisk: false, rfs: false, localStorage: false, file: false, stats: false, multicast: false, axe: false }

let loading: Promise<GunFactory> | undefined

/**
 * gun, loaded on first use (a server without GUN_PEERS never loads it). It prints a welcome line
 * on stdout as it loads, where our logs are JSON lines: the line goes to the log instead.
 */
async function loadGun (log: Logger): Promise<GunFactory> {
  loading ??= (async () => {
    const print = console.log
    const said: string[] = []
    console.log = (...args: unknown[]) => { said.push(args.join(' ')) }
    try {
      return (await import('gun')).default as unknown as GunFactory
    } finally {
      console.log = print
      for (const line of said) log.info({ gun: line }, 'the gun package says')
    }
  })()
  return await loading
}

const READ_BACK_PAUSE_MS = 200

/** A tombstone nulls each field: gun keeps the soul, with nothing left to read. */
const TOMBSTONE = { v: null, iv: null, ct: null }
/** A node's own fields (a sealed node's, or a tombstone's). */
const NODE_FIELDS = Object.keys(TOMBSTONE)
const fieldsOf = (node: unknown): Record<string, unknown> | undefined => {
  if (node === null || typeof node !== 'object') return undefined
  const { _: _meta, ...fields } = node as Record<string, unknown>
  return fields
}
/** The relay has the node's fields (v, iv, ct) as put; a field anyone added beside them on a public relay does not count. */
const sameNode = (a: Record<string, unknown> | undefined, b: object): boolean =>
  a !== undefined && Object.entries(b).every(([k, v]) => a[k] === v)

export class GunRelays implements GunNetwork {
  private readonly peers: string[]
  private readonly timeoutMs: number
  private readonly log: Logger

  /** `timeoutMs`: how long to wait for a relay's answer (one that has nothing answers nothing). */
  constructor (peers: string[], timeoutMs: number, log: Logger) {
    this.peers = peers
    this.timeoutMs = timeoutMs
    this.log = log
  }

  async putAll (nodes: Array<{ soul: string, node: GunRecordNode | null }>): Promise<Map<string, string>> {
    const failed = new Map<string, string>()
    const { gun: writer } = await this.client()
    try {
      for (const { soul, node } of nodes) {
        writer.get(soul).put(node ?? TOMBSTONE, ack => {
          if (ack.err !== undefined) failed.set(soul, `A GUN relay refused the node: ${String(ack.err)}`)
        })
      }
      // Read back by another client until each node is there (or the time is up).
      let waiting = nodes.filter(({ soul }) => !failed.has(soul))
      const until = Date.now() + 2 * this.timeoutMs
      let reachable = false
      while (waiting.length > 0 && Date.now() < until) {
        const read = await this.readMany(waiting.map(({ soul }) => soul))
        reachable ||= read.reachable
        waiting = waiting.filter(({ soul, node }, i) => !failed.has(soul) && !sameNode(read.nodes[i], node ?? TOMBSTONE))
        // A relay that answers an older node at once is not asked again at once.
        if (waiting.length > 0) await sleep(READ_BACK_PAUSE_MS)
      }
      const why = reachable
        ? `The GUN relays did not keep the node within ${2 * this.timeoutMs / 1000} s; it is tried again later.`
        : this.unreachable()
      for (const { soul } of waiting) failed.set(soul, why)
    } finally {
      this.close(writer)
    }
    return failed
  }

  /**
   * The node's own fields (v, iv, ct) at a soul, as a relay has them; anything else anyone wrote
   * beside them on a public relay is left out, and so is a field longer than a sealed node's.
   */
  async read (soul: string): Promise<Record<string, unknown> | undefined> {
    const { reachable, nodes } = await this.readMany([soul])
    if (!reachable) throw new Error(this.unreachable())
    const node = nodes[0]
    if (node === undefined) return undefined
    const kept = (value: unknown): boolean => typeof value !== 'string' || value.length <= MAX_GUN_CIPHERTEXT
    return Object.fromEntries(NODE_FIELDS.filter(k => k in node && kept(node[k])).map(k => [k, node[k]]))
  }

  /** Said to owners (My files, API errors): the relays' addresses, which may carry tokens, go to the log only. */
  private unreachable (): string {
    this.log.warn({ peers: this.peers }, 'no GUN relay in GUN_PEERS can be reached')
    return 'No GUN relay of this server can be reached; it is tried again later.'
  }

  /** Each soul's node from a fresh client (undefined: no answer in time); whether any relay was connected. */
  private async readMany (souls: string[]): Promise<{ reachable: boolean, nodes: Array<Record<string, unknown> | undefined> }> {
    const { gun: reader } = await this.client()
    try {
      const nodes = await Promise.all(souls.map(async soul => await new Promise<Record<string, unknown> | undefined>(resolve => {
        const timer = setTimeout(() => resolve(undefined), this.timeoutMs)
        reader.get(soul, ack => {
          clearTimeout(timer)
          resolve(fieldsOf(ack.put))
        })
      })))
      const reachable = nodes.some(node => node !== undefined) || Object.values(reader._.opt.peers).some(peer => peer.wire?.readyState === 1)
      return { reachable, nodes }
    } finally {
      this.close(reader)
    }
  }

  /** Wrapped: a gun chain has a `then` that never settles, so it cannot be what a promise resolves to. */
  private async client (): Promise<{ gun: GunClient }> {
    const Gun = await loadGun(this.log)
    return { gun: Gun({ ...QUIET, peers: this.peers }) }
  }

  private close (gun: GunClient): void {
    const { peers } = gun._.opt
    // Forgotten first, so that gun does not reconnect when the socket closes.
    for (const [url, peer] of Object.entries(peers)) {
      delete peers[url]
      clearTimeout(peer.defer)
      peer.wire?.close?.()
    }
  }
}
