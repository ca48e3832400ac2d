/**
 * The torrents active in the seeding client, the only seeds held in memory: every seeded torrent
 * has a row in the database's seeding state, but at most `maxActive` are in the client: a million
 * files cost a million rows, not a million torrents nor a million map entries. The least
 * recently wanted go idle (out of the client; the bytes stay) and come back the moment someone
 * wants them: a peer's announce at the tracker, a request for the .torrent or the bytes. Pinned
 * torrents stay active. Demand brings at most `activationsPerMinute` idle torrents up (anyone can
 * make demand, and each one coming up sends another idle): past that a wanted torrent stays idle
 * until the next minute, its bytes still served over HTTP and its web seed.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible'
import type { Torrent } from 'webtorrent'
import type { SeedRepository, SeedRow } from '../catalog/seedRepository.ts'
import type { Logger } from '../logger.ts'
import { PrivateGate, type PrivateAccess } from './privateGate.ts'
import type { ServedBytes } from './servedBytes.ts'
import type { SeedingActivity } from './seedingActivity.ts'
import type { SeedingClient } from './seedingClient.ts'
import { scopesOf, type StatsScope } from './statsScope.ts'
import { onSwarmJoined, reconnectNow, trackerClient } from './trackerClient.ts'
import type { TrackerStats } from './trackerStats.ts'

/** What a seeded torrent needs from the rest of the server when it comes up. */
export interface SeedSource {
  /** The .torrent to seed: the file's info dict, announced to our tracker (with the seeder's key). */
  torrentFile: (seed: SeedRow) => Promise<Uint8Array>
  /** A private torrent's gatekeeping; undefined when its record is gone. */
  privateAccess: (seed: SeedRow) => Promise<PrivateAccess | undefined>
}

export interface ActiveTorrentsOptions {
  /** The running client, or undefined before it starts and once it closes. */
  client: () => SeedingClient | undefined
  seeds: SeedRepository
  source: SeedSource
  activity: SeedingActivity
  trackerStats: TrackerStats
  /** Counts what each torrent sends to peers. */
  served: ServedBytes
  log: Logger
  /** At most this many torrents active in the client at once (SEED_MAX_ACTIVE). */
  maxActive: number
  /** Idle torrents that demand (want) may bring up per minute (SEED_ACTIVATIONS_PER_MINUTE); unlimited when left out. */
  activationsPerMinute?: number
}

/** A torrent in the client (or coming up), with what decides when it goes idle. */
interface ActiveSeed {
  mediaId: string
  infoHash: string
  kind: SeedRow['kind']
  pinned: boolean
  /** When last wanted, or else when seeded (ms): the least recent goes idle first. */
  rankedAt: number
  /** A peer announced while it was idle: its next announce asks for peers (see add). */
  prime: boolean
  /** When an announce last asked for peers (ms; 0: never). */
  offeredAt: number
  /** Set for private torrents only. */
  gate?: PrivateGate
}

/** What the torrents of a scope moved and have now, idle ones' bytes included. */
export interface ActiveTotals {
  uploaded: number
  downloaded: number
  peers: number
  activeTorrents: number
}

/** WebRTC offers in the one announce after a peer found the torrent idle (the ws client's cap is 5). */
const PRIME_NUMWANT = 5
/**
 * Joining a swarm that has leechers, a torrent that offered less than this long ago does not
 * offer again: its offers reached them (they were primed for, see add).
 */
const OFFERED_RECENTLY_MS = 30_000
/** Torrents brought up at once when resuming: enough to hide file reads, few enough to leave the API room. */
const RESUME_CONCURRENCY = 8
/** Idle torrents a peer announced and that wait for an activation: at most this many are remembered. */
const MAX_PRIMED = 10_000

export class ActiveTorrents {
  /** Idle torrents that demand brought up, and those it found idle past the rate and left so (for /metrics). */
  readonly demand = { activated: 0, deferred: 0 }
  private readonly opts: ActiveTorrentsOptions
  /** The active torrents (and those coming up), by infoHash. */
  private readonly active = new Map<string, ActiveSeed>()
  /** Their torrents, once in the client. */
  private readonly torrents = new Map<string, Torrent>()
  private readonly activating = new Map<string, Promise<boolean>>()
  /** Idle torrents a peer announced: their first announce once up asks for peers. */
  private readonly primed = new Set<string>()
  /** Totals of torrents that went idle, so the seeder's totals never go down. */
  private readonly retired: Record<StatsScope, { uploaded: number, downloaded: number }> = { all: { uploaded: 0, downloaded: 0 }, public: { uploaded: 0, downloaded: 0 } }
  private readonly activations: RateLimiterMemory | undefined

  constructor (opts: ActiveTorrentsOptions) {
    this.opts = opts
    if (opts.activationsPerMinute !== undefined) this.activations = new RateLimiterMemory({ points: opts.activationsPerMinute, duration: 60 })
  }

  /** The torrent in the client for this infoHash, if it is active. */
  torrent (infoHash: string): Torrent | undefined {
    return this.torrents.get(infoHash)
  }

  /** The active torrents a count of this scope covers. */
  inScope (scope: StatsScope): Torrent[] {
    return [...this.torrents].filter(([infoHash]) => scopesOf(this.active.get(infoHash)?.kind).includes(scope)).map(([, t]) => t)
  }

  /** Bytes each active torrent sent since it came up. */
  * sent (): Iterable<[string, number]> {
    for (const [infoHash, t] of this.torrents) yield [infoHash, t.uploaded]
  }

  /** Bytes moved by the torrents of this scope since start (idle ones' too), and the active ones' peers. */
  totals (scope: StatsScope): ActiveTotals {
    const totals = { ...this.retired[scope], peers: 0, activeTorrents: 0 }
    for (const t of this.inScope(scope)) {
      totals.uploaded += t.uploaded
      totals.downloaded += t.received
      totals.peers += t.numPeers
      totals.activeTorrents++
    }
    return totals
  }

  /**
   * Someone wants this torrent now: note it, and bring it up if it is idle and the minute's
   * activations allow (resolves once it is active, or at once when it stays idle).
   * `announced`: a peer announced it at the tracker and waits in the swarm.
   */
  async want (infoHash: string, opts: { announced?: boolean } = {}): Promise<void> {
    if (!this.opts.client()) return
    const { activity, seeds } = this.opts
    const now = Date.now()
    const active = this.active.get(infoHash)
    if (active) {
      active.rankedAt = now
      activity.note(infoHash, { wantedAt: now })
      return void await this.activating.get(infoHash)
    }
    const row = await seeds.get(infoHash)
    if (!row) return
    activity.note(infoHash, { wantedAt: now })
    if (opts.announced) this.prime(infoHash)
    if (!await this.mayActivate()) {
      this.demand.deferred++
      return
    }
    this.demand.activated++
    await this.activate({ ...row, wantedAt: now, rankedAt: now })
  }

  /** The database says this torrent is pinned now (or not): keep it active whatever else is wanted, or let it go idle in its turn. */
  async setPinned (infoHash: string, pinned: boolean): Promise<void> {
    const active = this.active.get(infoHash)
    if (active) active.pinned = pinned
    if (pinned) await this.start(infoHash)
  }

  /** Bring a torrent the database seeds up now, whatever the demand rate. */
  async start (infoHash: string): Promise<void> {
    const row = await this.opts.seeds.get(infoHash)
    if (row) await this.activate(row)
  }

  /**
   * Peers left this private torrent's swarm (AccessPolicy.peersLeft): close the connections its
   * gate no longer admits, now (one coming up is checked once it is up).
   */
  async closeUnadmitted (infoHash: string): Promise<void> {
    await this.activating.get(infoHash)
    const gate = this.active.get(infoHash)?.gate
    const torrent = this.torrents.get(infoHash)
    if (!gate || !torrent) return
    for (const wire of [...torrent.wires]) {
      if (!gate.admitted(torrent, wire)) this.opts.log.debug({ infoHash, type: wire.type }, 'closed a connection to a peer no longer admitted')
    }
  }

  /** The database no longer seeds this torrent: take it out of the client. */
  async drop (infoHash: string): Promise<void> {
    this.primed.delete(infoHash)
    // What it sent goes unwritten with the seed: not noted as it leaves, and a write already
    // under way ends before the file can be seeded anew (it could carry the bytes to the new row).
    await this.idle(infoHash, { noteSent: false })
    this.opts.activity.forget(infoHash)
    await this.opts.activity.settled()
  }

  /**
   * Bring up to maxActive torrents up from the database (no piece is hashed): pinned ones
   * first, then the most recently wanted. The rest stay idle until wanted. With several nodes
   * only this node's (`mine`) count, looked for among the `nodes` × maxActive most wanted.
   */
  async resume (mine: (infoHash: string) => boolean = () => true, nodes = 1): Promise<{ resumed: number, failed: number }> {
    const { client, seeds, maxActive } = this.opts
    const first: SeedRow[] = []
    for (let offset = 0; first.length < maxActive && offset < maxActive * nodes; offset += maxActive) {
      const page = await seeds.mostWanted(maxActive, offset)
      first.push(...page.filter(seed => mine(seed.infoHash)).slice(0, maxActive - first.length))
      if (page.length < maxActive) break
    }
    let resumed = 0
    let failed = 0
    const next = first[Symbol.iterator]()
    const worker = async (): Promise<void> => {
      for (let r = next.next(); !r.done && client(); r = next.next()) {
        if (await this.activate(r.value)) resumed++
        else if (client()) failed++
        // Let requests waiting on the event loop go first: /readyz and the API do not wait for the resume.
        await new Promise(resolve => setImmediate(resolve))
      }
    }
    await Promise.all(Array.from({ length: RESUME_CONCURRENCY }, worker))
    return { resumed, failed }
  }

  /**
   * The tracker moved to another node, which knows no swarm yet: every active torrent joins it
   * now (closed WebSocket trackers reopen, and all announce), not at their next interval.
   */
  reannounce (): void {
    for (const torrent of this.torrents.values()) {
      reconnectNow(torrent)
      trackerClient(torrent)?.update()
    }
  }

  /** Another node seeds these now (the live nodes changed): idle them here; returns those idled. */
  async idleUnless (mine: (infoHash: string) => boolean): Promise<string[]> {
    const theirs = [...this.active.keys()].filter(infoHash => !mine(infoHash))
    await Promise.all(theirs.map(async infoHash => await this.idle(infoHash)))
    return theirs
  }

  /** The client is closing: what the active torrents sent is noted for the last write, and they are forgotten. */
  close (): void {
    for (const [infoHash, t] of this.torrents) this.retire(infoHash, t)
    this.torrents.clear()
    for (const seed of this.active.values()) seed.gate?.stop()
    this.active.clear()
  }

  /** Takes one of the minute's demand activations, if one is left. */
  private async mayActivate (): Promise<boolean> {
    if (!this.activations) return true
    return await this.activations.consume('demand').then(() => true, () => false)
  }

  /** Remember that a peer announced this idle torrent (a bounded set: the oldest are forgotten). */
  private prime (infoHash: string): void {
    this.primed.delete(infoHash)
    this.primed.add(infoHash)
    if (this.primed.size > MAX_PRIMED) this.primed.delete(this.primed.values().next().value!)
  }

  /** Bring a seed into the client unless it is there (one attempt at a time); true when active. */
  private async activate (row: SeedRow): Promise<boolean> {
    if (!this.opts.client()) return false
    if (this.torrents.has(row.infoHash)) return true
    let pending = this.activating.get(row.infoHash)
    if (!pending) {
      pending = this.bringUp(row).finally(() => this.activating.delete(row.infoHash))
      this.activating.set(row.infoHash, pending)
    }
    return await pending
  }

  private async bringUp (row: SeedRow): Promise<boolean> {
    const { log, source } = this.opts
    const seed: ActiveSeed = { mediaId: row.mediaId, infoHash: row.infoHash, kind: row.kind, pinned: row.pinned, rankedAt: row.rankedAt, prime: this.primed.delete(row.infoHash), offeredAt: 0 }
    this.active.set(row.infoHash, seed)
    try {
      if (row.kind === 'private') {
        const access = await source.privateAccess(row)
        if (!access) throw new Error('its record is gone')
        seed.gate = new PrivateGate(access, row.mediaId, log)
        await seed.gate.renew(() => this.active.get(row.infoHash) === seed ? this.torrents.get(row.infoHash) : undefined)
      }
      const torrent = await this.add(seed, await source.torrentFile(row))
      // Dropped while it was coming up, or before: its row was read before a change (a delete, a
      // file made private) committed and dropped it while it was not active yet. Read once more
      // now it is in the client: a drop that commits after this finds it active and takes it out.
      if (this.active.get(row.infoHash) !== seed || !this.opts.client() || !await this.opts.seeds.get(row.infoHash)) {
        await this.idle(row.infoHash, { noteSent: false })
        return false
      }
      // A peer announced after this torrent's first announce had left without asking for
      // peers: announce again, asking, so our offer reaches it.
      if (seed.prime) trackerClient(torrent)?.update()
      // The one over the limit goes idle just after: whoever wanted this torrent (an upload, a
      // download) does not wait for another torrent's teardown.
      setImmediate(() => this.makeRoom(row.infoHash))
      return true
    } catch (err) {
      if (this.active.get(row.infoHash) === seed && !this.torrents.has(row.infoHash)) this.active.delete(row.infoHash)
      seed.gate?.stop()
      log.warn({ mediaId: row.mediaId, err: (err as Error).message }, 'could not start seeding a torrent')
      return false
    }
  }

  /** Add a seed's torrent to the client, behind its private gate if it has one. */
  private async add (seed: ActiveSeed, torrentFile: Uint8Array): Promise<Torrent> {
    const { log, trackerStats, served } = this.opts
    const client = this.opts.client()
    if (!client) throw new Error('MediaSeeder is not running')
    const { gate } = seed
    const counted = { infoHash: seed.infoHash, mediaId: seed.mediaId, kind: seed.kind, ...(gate ? { owner: gate.owner } : {}) }
    const torrent = await client.add(seed.mediaId, torrentFile, {
      // The client's announces ask for no peers (no offers, see SeedingClient), except once after
      // a peer announced this torrent while it was idle: that peer is already in the swarm and
      // its offers went nowhere, so only an offer from us can reach it now. A private
      // torrent's announces carry its capability (as `token`, in the query or the message).
      announceOpts: () => {
        const opts = gate?.token ? { token: gate.token } : {}
        if (!seed.prime) return opts
        seed.prime = false
        seed.offeredAt = Date.now()
        return { ...opts, numwant: PRIME_NUMWANT }
      },
      ...(gate ? { onWire: (t, wire) => { if (!gate.admitted(t, wire)) log.debug({ mediaId: seed.mediaId, type: wire.type }, 'refused a peer the tracker did not admit') } } : {}),
      onReady: t => trackerStats.watch(t, seed.kind),
      onUpload: (transport, bytes) => served.count(counted, transport, bytes)
    })
    // Leechers already in the swarm when this seeder joins it (they announced while no node
    // seeded it: before a failover moved it here, or the tracker there) sent their offers to
    // nobody, and would wait for their next announce (minutes): offer to them once.
    onSwarmJoined(torrent, leechers => {
      if (leechers === 0 || Date.now() - seed.offeredAt < OFFERED_RECENTLY_MS) return
      seed.prime = true
      trackerClient(torrent)?.update()
    })
    this.torrents.set(torrent.infoHash, torrent)
    return torrent
  }

  /** Idle the least recently wanted torrents (pinned ones last) until at most maxActive are active. */
  private makeRoom (keep: string): void {
    while (this.torrents.size > this.opts.maxActive) {
      let victim: ActiveSeed | undefined
      for (const infoHash of this.torrents.keys()) {
        const seed = this.active.get(infoHash)
        if (!seed || infoHash === keep) continue
        if (!victim || byWant(seed, victim) < 0) victim = seed
      }
      if (!victim) return
      if (victim.pinned) this.opts.log.warn({ maxActive: this.opts.maxActive }, 'more pinned torrents than SEED_MAX_ACTIVE: a pinned one goes idle')
      void this.idle(victim.infoHash)
    }
  }

  /** What an active torrent sent goes to the totals and its row's pending bytes. */
  private retire (infoHash: string, t: Torrent, noteSent = true): void {
    this.opts.activity.retire(infoHash, t.uploaded, noteSent && this.active.has(infoHash))
    for (const scope of scopesOf(this.active.get(infoHash)?.kind)) {
      this.retired[scope].uploaded += t.uploaded
      this.retired[scope].downloaded += t.received
    }
  }

  /** Take a torrent out of the client (the bytes stay); what it sent is written behind. */
  private async idle (infoHash: string, opts: { noteSent?: boolean } = {}): Promise<void> {
    this.active.get(infoHash)?.gate?.stop()
    const t = this.torrents.get(infoHash)
    if (t) this.retire(infoHash, t, opts.noteSent !== false)
    this.torrents.delete(infoHash)
    this.active.delete(infoHash)
    if (t) await new Promise<void>(resolve => t.destroy({ destroyStore: false }, () => resolve()))
  }
}

/** Least wanted first: unpinned before pinned, then by when last wanted (or else seeded). */
const byWant = (a: ActiveSeed, b: ActiveSeed): number => Number(a.pinned) - Number(b.pinned) || a.rankedAt - b.rankedAt
