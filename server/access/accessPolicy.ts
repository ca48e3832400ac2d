/**
 * THE access policy: every door asks here, with one question, "may caller X do Y to file Z?"
 * (require), answered from the catalogue: the API (bytes, info, .torrent, claims, pins, deletes,
 * shares, signed records), the web seed, the tracker and the seeder's BitTorrent connections,
 * and what the stats may count and show. Public media may be read by everyone; private media by its
 * owner and by the keys the owner shares it with, while the share lives; only an owner may
 * change what they hold. Everyone else gets what a missing id gets, so nothing tells them it
 * exists.
 */
import { notFound } from '../../shared/errors.ts'
import { isMediaId } from '../../shared/media.ts'
import { type Capabilities, SEEDER_SUBJECT } from '../auth/capabilities.ts'
import type { BlobRepository } from '../catalog/blobRepository.ts'
import type { OipRecordRow } from '../records/oipRecordRepository.ts'
import type { MediaRecord, RecordRepository } from '../records/recordRepository.ts'
import type { ShareRepository } from '../records/shareRepository.ts'
import type { StatsScope } from '../seeder/mediaSeeder.ts'
import type { ServedTorrent } from '../seeder/servedBytes.ts'
import { type Decision, SwarmAdmissions } from './swarmAdmissions.ts'

/** The public key of a signed-in caller, or undefined for an anonymous one. */
export type Caller = string | undefined

export interface AccessPolicyDeps {
  records: RecordRepository
  blobs: BlobRepository
  shares: ShareRepository
  capabilities: Capabilities
  /** Is this BitTorrent peer id (hex) a seeder's: this server's, or another live node's? */
  isSeederPeer: (peerId: string) => boolean
  /** Keys that see every count and may change settings (ADMIN_PUBLIC_KEYS). */
  adminKeys: string[]
  /**
   * These peers were admitted to this private swarm and no longer are (a share revoked,
   * shortened or expired, a record gone, a capability expired): take them out of the tracker's
   * swarm and close the seeder's connections to them.
   */
  peersLeft: (infoHash: string, peerIds: string[]) => Promise<void>
  /** A swarm admission that ended by itself could not be acted on (peersLeft failed). */
  onError: (err: Error) => void
  /**
   * Nodes sharing the catalogue keep the same swarm admissions (see fromNode): each change made
   * here is told to the others. Left out on a lone node.
   */
  tellNodes?: (change: AdmissionChange) => void
  /** Does this node lead (run the tracker, which makes the admissions)? */
  leads?: () => boolean
}

/**
 * A change to the swarm admissions, as one node tells the others. `limit`: ms, null for none
 * (a share without expiry); 0 ends them.
 */
export type AdmissionChange =
  | { op: 'admit', infoHash: string, peerId: string, address: string, key: string, capabilityExpiry: number, limit: number | null }
  | { op: 'forget', infoHash: string, peerId: string, key: string }
  | { op: 'limitKey', infoHash: string, key: string, limit: number | null }
  | { op: 'forgetSwarm', infoHash: string }

/**
 * What a caller may do to a file: `read` it (bytes, info, .torrent, swarm), `claim` the same
 * bytes for a record of their own (public files and their own only: a share lends a file, it
 * does not give it), or act as one who holds it (`own`: pin, delete, edit, share, sign a
 * record for it).
 */
export type Action = 'read' | 'claim' | 'own'

/**
 * What was granted: the caller's own record, when they hold the file; else, when they read it
 * through someone's share, that owner's private record (its name, type and torrent are what
 * they see).
 */
export interface Grant {
  own?: MediaRecord
  shared?: MediaRecord
}

/** One announce at the tracker, as the policy judges it. */
export interface Announce {
  infoHash: string
  /** The tracker capability from the announce (`token`). */
  token: string | undefined
  peerId: string | undefined
  /** started, stopped, completed, paused; undefined for a periodic update. */
  event: string | undefined
  /** It came with the seeder's key (which only the server's own seeder has). */
  fromSeeder: boolean
  /** The client address it came from (ClientAddresses). */
  address: string
}

/**
 * May `caller` see this signed record? Public ones: anyone; private ones: their owner. (Record
 * listings filter the same way in their query, so a page costs no more than its rows.)
 */
export function canSeeRecord (caller: Caller, row: Pick<OipRecordRow, 'accessLevel' | 'owner'>): boolean {
  return row.accessLevel === 'public' || row.owner === caller
}

/** Infinity as JSON can carry it (null). */
const finite = (n: number): number | null => Number.isFinite(n) ? n : null

export class AccessPolicy {
  private readonly deps: AccessPolicyDeps
  private readonly admitted: SwarmAdmissions

  constructor (deps: AccessPolicyDeps) {
    this.deps = deps
    this.admitted = new SwarmAdmissions((infoHash, peerIds) => { this.left(infoHash, peerIds).catch(deps.onError) })
  }

  /**
   * May `caller` do `action` to this file? The grant, or the not-found error a missing id gets.
   * Public files (listed: some record holds them publicly) may be read and claimed by anyone;
   * a private one may be read through a live share (one more lookup, only then), and so may its
   * thumbnail, which the owner's signed record of a shared file names.
   */
  async require (caller: Caller, action: Action, mediaId: string): Promise<Grant> {
    if (!isMediaId(mediaId)) throw notFound()
    const own = caller === undefined ? undefined : await this.deps.records.get(mediaId, caller)
    if (own) return { own }
    if (action === 'own') throw notFound()
    if ((await this.deps.blobs.get(mediaId))?.listedAt != null) return {}
    const shared = action === 'read' && caller !== undefined ? await this.deps.shares.readable(mediaId, caller, Date.now()) : undefined
    if (shared) return { shared: shared.record }
    // The thumbnail of a file shared with the caller is read as the file is (asked only now).
    const thumbnail = action === 'read' && caller !== undefined ? await this.deps.shares.readableThumbnail(mediaId, caller, Date.now()) : undefined
    if (thumbnail) return { shared: thumbnail }
    throw notFound()
  }

  /** What the stats may count for `caller`: every torrent for admins, public ones for anyone else. */
  statsScope (caller: Caller): StatsScope {
    return this.isAdmin(caller) ? 'all' : 'public'
  }

  /**
   * May `caller` see what this torrent served, file by file (the dashboard)? A public torrent's
   * counts: anyone's, while its file is public. A private torrent's: its owner's alone (not a
   * key it is shared with, nor an admin: its name and traffic are the owner's). The counts name
   * their owner, so anyone else is turned away without a lookup, and the owner only while the
   * record is still theirs and private.
   */
  async seesServed (caller: Caller, torrent: ServedTorrent): Promise<boolean> {
    if (torrent.kind === 'public') return await this.deps.blobs.listedByInfoHash(torrent.infoHash) !== undefined
    if (caller === undefined || torrent.owner !== caller) return false
    return (await this.deps.records.byPrivateInfoHash(torrent.infoHash))?.owner === caller
  }

  isAdmin (caller: Caller): boolean {
    return caller !== undefined && this.deps.adminKeys.includes(caller)
  }

  /**
   * Web seeds send no headers: the capability in the URL stands in for the session. The
   * caller it names, when it is valid for this very media.
   */
  async webseedCaller (mediaId: string, token: string): Promise<Caller> {
    const claims = await this.deps.capabilities.check('webseed', token)
    return claims?.mediaId === mediaId ? claims.sub : undefined
  }

  /**
   * May a peer announce this infoHash to our tracker? Public torrents: anyone, but the seeder's
   * own peer id only with the seeder's key (else anyone could stop it or stand in for it). A private
   * record's torrent: only with a tracker capability for this very infoHash, its owner's, a
   * key's the owner shares the record with while the share lives (checked in the database at
   * every announce), or our own seeder's (and then only as the seeder's peer id). Such a peer id
   * is admitted to the swarm, from the address it announced from, until the capability expires,
   * no later than the share, or until it announces `stopped`: the seeder serves the torrent to
   * admitted peers only (admitsPeer). The seeder's own peer id is never admitted, and nobody
   * else may announce it.
   */
  async admitAnnounce (announce: Announce): Promise<boolean> {
    // A revoke commits, then ends admissions: one that ended while this announce read the
    // database (its share live, then) would miss the admission made here, so read again. Only
    // an end in this announce's own swarm counts.
    for (;;) {
      const decision = this.admitted.decide(announce.infoHash)
      try {
        const admitted = await this.decideAnnounce(announce, decision)
        if (admitted !== undefined) return admitted
      } finally {
        decision.done()
      }
    }
  }

  /** admitAnnounce once; undefined when `decision` went stale while the database was read. */
  private async decideAnnounce (announce: Announce, decision: Decision): Promise<boolean | undefined> {
    const { infoHash, token, peerId, event, fromSeeder, address } = announce
    const seederPeer = peerId !== undefined && this.deps.isSeederPeer(peerId)
    if (await this.deps.blobs.listedByInfoHash(infoHash) !== undefined) return fromSeeder || !seederPeer
    const record = await this.deps.records.byPrivateInfoHash(infoHash)
    if (!record || token === undefined || peerId === undefined) return false
    const claims = await this.deps.capabilities.check('tracker', token)
    if (claims?.infoHash !== infoHash) return false
    // A seeder's capability goes with a seeder's peer id, or with the seeders' key (another
    // node's seeder, before this one has read its peer id).
    if (claims.sub === SEEDER_SUBJECT) return seederPeer || fromSeeder
    if (seederPeer) return false
    let limit = Infinity
    if (claims.sub !== record.owner) {
      const share = await this.deps.shares.live(record.mediaId, record.owner, claims.sub, Date.now())
      if (!share) return false
      limit = share.expiresAt ?? Infinity
    }
    if (decision.stale) return undefined
    if (event !== 'stopped') {
      const admitted = this.admitted.admit(infoHash, peerId, address, claims.sub, claims.expiresAt, limit)
      if (admitted) this.deps.tellNodes?.({ op: 'admit', infoHash, peerId, address, key: claims.sub, capabilityExpiry: claims.expiresAt, limit: finite(limit) })
      return admitted
    }
    this.admitted.forget(infoHash, peerId, claims.sub)
    this.deps.tellNodes?.({ op: 'forget', infoHash, peerId, key: claims.sub })
    return true
  }

  /**
   * The owner revoked `recipient`'s share of the record whose torrent this is: their peers
   * leave its swarm now (peersLeft), connections included, whatever capabilities they hold.
   */
  async shareRevoked (infoHash: string, recipient: string): Promise<void> {
    await this.restrict({ op: 'limitKey', infoHash, key: recipient, limit: 0 })
  }

  /** The share's expiry changed (ms; null: none): their peers' admissions move with it, and those already past it leave now. */
  async shareExpiryChanged (infoHash: string, recipient: string, expiresAt: number | null): Promise<void> {
    await this.restrict({ op: 'limitKey', infoHash, key: recipient, limit: expiresAt })
  }

  /** A private torrent is no longer seeded (its record went, or is no longer private): nobody stays admitted to it. */
  async swarmEnded (infoHash: string): Promise<void> {
    await this.restrict({ op: 'forgetSwarm', infoHash })
  }

  /**
   * A change another node told. The tracker's admissions (admit, forget) are taken from the
   * leader alone, and only by a node that does not lead itself. Ends and limits (a share revoked
   * on any node) are taken from anyone, as they only ever shut peers out; the leader tells them
   * on, so every node gets them after the admissions the leader made before it heard of them.
   */
  async fromNode (change: AdmissionChange, fromLeader: boolean): Promise<void> {
    if (change.op === 'admit' || change.op === 'forget') {
      if (!fromLeader || this.deps.leads?.() === true) return
      if (change.op === 'admit') this.admitted.admit(change.infoHash, change.peerId, change.address, change.key, change.capabilityExpiry, change.limit ?? Infinity)
      else this.admitted.forget(change.infoHash, change.peerId, change.key)
      return
    }
    if (this.deps.leads?.() === true) await this.restrict(change)
    else await this.apply(change)
  }

  /** This node may have missed changes: it forgets every admission (peers are admitted again at their next announce). */
  async forgetAdmissions (): Promise<void> {
    for (const [infoHash, peerIds] of this.admitted.forgetAll()) await this.left(infoHash, peerIds)
  }

  /** End or limit admissions here, and tell the other nodes. */
  private async restrict (change: Exclude<AdmissionChange, { op: 'admit' | 'forget' }>): Promise<void> {
    this.deps.tellNodes?.(change)
    await this.apply(change)
  }

  private async apply (change: Exclude<AdmissionChange, { op: 'admit' | 'forget' }>): Promise<void> {
    const { infoHash } = change
    const left = change.op === 'forgetSwarm'
      ? this.admitted.forgetSwarm(infoHash)
      : this.admitted.limitKey(infoHash, change.key, change.limit ?? Infinity)
    await this.left(infoHash, left)
  }

  private async left (infoHash: string, peerIds: string[]): Promise<void> {
    if (peerIds.length > 0) await this.deps.peersLeft(infoHash, peerIds)
  }

  /**
   * May the seeder serve a private torrent to this peer (its handshake's peer id), connected
   * from `address`? Only if the tracker admitted that peer id to this torrent's swarm
   * (admitAnnounce), from that same address: peer ids are chosen by clients, and the tracker
   * tells them to every peer in the swarm, so the id alone would let anyone who learnt one in.
   * `null` for a WebRTC connection, which compares no address: its address is an ICE candidate
   * (a NAT's, a TURN relay's, an mDNS name), unrelated to where the announce came from, and
   * none is needed, since the seeder answers only the offers the tracker relayed, and the
   * tracker relays an offer only from the WebSocket that announced, and was admitted with, the
   * peer id it comes under (peerOwnership.ts).
   */
  admitsPeer (infoHash: string, peerId: string, address: string | null): boolean {
    return this.admitted.has(infoHash, peerId, address)
  }
}
