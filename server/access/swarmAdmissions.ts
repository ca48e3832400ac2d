/**
 * The peers the tracker admitted to each private swarm: (infoHash, peer id) → the key whose
 * capability admitted it, the address the announce came from, and until when. The seeder
 * serves a private torrent only to these (AccessPolicy.admitsPeer). Keyed by peer id, since
 * peers behind one NAT, or on one host, share an address; bound to the address, since peer
 * ids are handed out to every peer in a swarm.
 *
 * A per-process cache of decisions the database made at announce, and it fails closed: a
 * restart forgets every peer (each is served again once it announces again: peers re-announce
 * every tracker interval, and at once when their WebSocket reconnects), an admission ends at
 * its bound however late a timer runs, and a key's admissions can be ended or shortened at once
 * (a share revoked or changed). When admissions end by themselves, `onExpired` is told which
 * peers left, at that moment, so their connections can be closed.
 */
import { normalizeAddress } from './clientAddress.ts'

/** As many peers as bittorrent-tracker keeps per swarm: once a swarm has them, new ones are refused. */
export const MAX_PEERS_PER_SWARM = 1000

/** Peer ids one key may have in one swarm (tabs and devices); one more pushes out its own oldest, never another key's. */
export const MAX_PEERS_PER_KEY = 16

/** Longest a timer may wait (setTimeout's limit); a later expiry is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The time, and timers (real ones unless a test brings its own). */
export interface Clock {
  now (): number
  /** Run `fn` after `ms`; the function returned cancels it. */
  after (ms: number, fn: () => void): () => void
}

export const realClock: Clock = {
  now: Date.now,
  after (ms, fn) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return () => clearTimeout(timer)
  }
}

interface Admission {
  /** The key whose tracker capability admitted the peer. */
  key: string
  /** The client address its last announce came from (normalized: see normalizeAddress). */
  address: string
  /** When that capability expires (ms). */
  capabilityExpiry: number
  /** min(capabilityExpiry, the key's limit) (ms). */
  until: number
}

interface Swarm {
  /** peer id → admission, oldest admission first. */
  peers: Map<string, Admission>
  /** The timer that ends the next admissions due, and when it fires. */
  timer?: { at: number, cancel: () => void }
}

/**
 * An announce deciding from the database whether to admit a peer to one swarm: `stale` once
 * admissions to that swarm were ended on purpose (limitKey, forgetSwarm) after it began, when
 * what it read may be out of date and is read again (AccessPolicy). `done` when it has decided.
 */
export interface Decision {
  readonly stale: boolean
  done (): void
}

export class SwarmAdmissions {
  private readonly swarms = new Map<string, Swarm>()
  /** The decisions under way, by swarm: as many as announces in flight, gone when they are done. */
  private readonly deciding = new Map<string, Set<{ stale: boolean }>>()
  private readonly onExpired: (infoHash: string, peerIds: string[]) => void
  private readonly clock: Clock

  constructor (onExpired: (infoHash: string, peerIds: string[]) => void = () => {}, clock: Clock = realClock) {
    this.onExpired = onExpired
    this.clock = clock
  }

  /** Start deciding an admission to this swarm (see Decision). */
  decide (infoHash: string): Decision {
    let marks = this.deciding.get(infoHash)
    if (!marks) this.deciding.set(infoHash, marks = new Set())
    const mark = { stale: false }
    marks.add(mark)
    return {
      get stale () { return mark.stale },
      done: () => {
        marks.delete(mark)
        if (marks.size === 0 && this.deciding.get(infoHash) === marks) this.deciding.delete(infoHash)
      }
    }
  }

  /**
   * Admit a peer id announced from `address` to a swarm for `key` until its capability expires,
   * and no later than `limit` (a share's expiry); or renew it (from the address it announces
   * from now). False (nothing changes) when another key has that peer id admitted (no key may
   * take over, or end, another's admission), or the swarm is full.
   */
  admit (infoHash: string, peerId: string, address: string, key: string, capabilityExpiry: number, limit = Infinity): boolean {
    let swarm = this.swarms.get(infoHash)
    if (!swarm) this.swarms.set(infoHash, swarm = { peers: new Map() })
    const { peers } = swarm
    const now = this.clock.now()
    for (const [id, admission] of peers) if (admission.until <= now) peers.delete(id)
    const held = peers.get(peerId)
    if (held && held.key !== key) return false
    peers.delete(peerId)
    const mine = [...peers].filter(([, a]) => a.key === key)
    if (mine.length >= MAX_PEERS_PER_KEY) peers.delete(mine[0]![0])
    else if (peers.size >= MAX_PEERS_PER_SWARM) return false
    peers.set(peerId, { key, address: normalizeAddress(address), capabilityExpiry, until: Math.min(capabilityExpiry, limit) })
    this.schedule(infoHash, swarm)
    return true
  }

  /** `key`'s peer left the swarm (it announced `stopped`); another key's admission of that peer id stays. */
  forget (infoHash: string, peerId: string, key: string): void {
    const swarm = this.swarms.get(infoHash)
    if (!swarm || swarm.peers.get(peerId)?.key !== key) return
    swarm.peers.delete(peerId)
    this.dropIfEmpty(infoHash, swarm)
  }

  /**
   * Bound `key`'s admissions to this swarm by `limit` instead (Infinity: by their capabilities
   * alone), ending at once those it ends; the peer ids that left.
   */
  limitKey (infoHash: string, key: string, limit: number): string[] {
    this.endedOnPurpose(infoHash)
    const swarm = this.swarms.get(infoHash)
    if (!swarm) return []
    for (const admission of swarm.peers.values()) {
      if (admission.key === key) admission.until = Math.min(admission.capabilityExpiry, limit)
    }
    const left = this.endDue(swarm)
    this.schedule(infoHash, swarm)
    return left
  }

  /** End every admission of `key` to this swarm now; the peer ids that left. */
  forgetKey (infoHash: string, key: string): string[] {
    return this.limitKey(infoHash, key, -Infinity)
  }

  /** End every admission to this swarm now (its record is gone); the peer ids that left. */
  forgetSwarm (infoHash: string): string[] {
    this.endedOnPurpose(infoHash)
    const swarm = this.swarms.get(infoHash)
    if (!swarm) return []
    swarm.timer?.cancel()
    this.swarms.delete(infoHash)
    return [...swarm.peers.keys()]
  }

  /** End every admission to every swarm now; the peer ids that left, by swarm. */
  forgetAll (): Array<[string, string[]]> {
    return [...this.swarms.keys()].map(infoHash => [infoHash, this.forgetSwarm(infoHash)])
  }

  /**
   * Was this peer id admitted to this swarm, is its admission still valid, and did it announce
   * from `address`? `null` asks about the peer id alone (a WebRTC connection: see
   * AccessPolicy.admitsPeer).
   */
  has (infoHash: string, peerId: string, address: string | null): boolean {
    const admission = this.swarms.get(infoHash)?.peers.get(peerId)
    if (!admission || admission.until <= this.clock.now()) return false
    return address === null || admission.address === normalizeAddress(address)
  }

  /** What the decisions under way for this swarm read may be out of date. */
  private endedOnPurpose (infoHash: string): void {
    for (const mark of this.deciding.get(infoHash) ?? []) mark.stale = true
  }

  /** Remove the admissions that have ended; their peer ids. */
  private endDue (swarm: Swarm): string[] {
    const now = this.clock.now()
    const left: string[] = []
    for (const [id, admission] of swarm.peers) {
      if (admission.until > now) continue
      swarm.peers.delete(id)
      left.push(id)
    }
    return left
  }

  /** Make sure a timer fires when this swarm's next admission ends. */
  private schedule (infoHash: string, swarm: Swarm): void {
    if (this.dropIfEmpty(infoHash, swarm)) return
    let next = Infinity
    for (const admission of swarm.peers.values()) next = Math.min(next, admission.until)
    // A timer due sooner looks again when it fires.
    if (swarm.timer && swarm.timer.at <= next) return
    swarm.timer?.cancel()
    const delay = Math.min(Math.max(next - this.clock.now(), 0), MAX_TIMER_MS)
    swarm.timer = {
      at: next,
      cancel: this.clock.after(delay, () => {
        if (this.swarms.get(infoHash) !== swarm) return
        swarm.timer = undefined
        const left = this.endDue(swarm)
        this.schedule(infoHash, swarm)
        if (left.length > 0) this.onExpired(infoHash, left)
      })
    }
  }

  /** Forget a swarm nobody is admitted to (true when it went). */
  private dropIfEmpty (infoHash: string, swarm: Swarm): boolean {
    if (swarm.peers.size > 0) return false
    swarm.timer?.cancel()
    this.swarms.delete(infoHash)
    return true
  }
}
