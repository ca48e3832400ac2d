/**
 * THE access policy: every door asks here, with one question, "may caller X do Y to file Z?"
 * (require), answered from the catalogue: the API (bytes, info, .torrent, claims, pins, deletes,
 * signed records), the web seed, the tracker and the seeder's BitTorrent connections, and what
 * the stats may count. Public media may be read by everyone; private media only by its owner,
 * and only an owner may change what they hold. Everyone else gets what a missing id gets, so
 * nothing tells them it exists.
 */
import { notFound } from '../../shared/errors.ts'
import { isMediaId } from '../../shared/media.ts'
import { type Capabilities, SEEDER_SUBJECT } from '../auth/capabilities.ts'
import type { BlobRepository } from '../catalog/blobRepository.ts'
import type { OipRecordRow } from '../records/oipRecordRepository.ts'
import type { MediaRecord, RecordRepository } from '../records/recordRepository.ts'
import type { StatsScope } from '../seeder/mediaSeeder.ts'
import { SwarmAdmissions } from './swarmAdmissions.ts'

/** The public key of a signed-in caller, or undefined for an anonymous one. */
export type Caller = string | undefined

export interface AccessPolicyDeps {
  records: RecordRepository
  blobs: BlobRepository
  capabilities: Capabilities
  /** The server's own seeder's BitTorrent peer id (hex), once it runs. */
  seederPeerId: () => string | undefined
  /** Keys that see every count and may change settings (ADMIN_PUBLIC_KEYS). */
  adminKeys: string[]
}

/**
 * What a caller may do to a file: `read` it (bytes, info, .torrent, swarm, a claim of the same
 * bytes) or act as one who holds it (`own`: pin, delete, sign a record for it).
 */
export type Action = 'read' | 'own'

/** What was granted: the caller's own record, when they hold the file. */
export interface Grant {
  own?: MediaRecord
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
}

/**
 * May `caller` see this signed record? Public ones: anyone; private ones: their owner. (Record
 * listings filter the same way in their query, so a page costs no more than its rows.)
 */
export function canSeeRecord (caller: Caller, row: Pick<OipRecordRow, 'accessLevel' | 'owner'>): boolean {
  return row.accessLevel === 'public' || row.owner === caller
}

export class AccessPolicy {
  private readonly deps: AccessPolicyDeps
  private readonly admitted = new SwarmAdmissions()

  constructor (deps: AccessPolicyDeps) {
    this.deps = deps
  }

  /**
   * May `caller` do `action` to this file? The grant, or the not-found error a missing id gets.
   * Public files (listed: some record holds them publicly) may be read by anyone.
   */
  async require (caller: Caller, action: Action, mediaId: string): Promise<Grant> {
    if (!isMediaId(mediaId)) throw notFound()
    const own = caller === undefined ? undefined : await this.deps.records.get(mediaId, caller)
    if (own) return { own }
    if (action === 'read' && (await this.deps.blobs.get(mediaId))?.listedAt != null) return {}
    throw notFound()
  }

  /** What the stats may count for `caller`: every torrent for admins, public ones for anyone else. */
  statsScope (caller: Caller): StatsScope {
    return this.isAdmin(caller) ? 'all' : 'public'
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
   * record's torrent: only with a tracker capability for this very infoHash, its owner's or our
   * own seeder's (and then only as the seeder's peer id). An owner's peer id is admitted to the
   * swarm until the capability expires, or until it announces `stopped`: the seeder serves the
   * torrent to admitted peer ids only (admitsPeer). The seeder's own peer id is never
   * admitted, and nobody else may announce it.
   */
  async admitAnnounce ({ infoHash, token, peerId, event, fromSeeder }: Announce): Promise<boolean> {
    const seederPeerId = this.deps.seederPeerId()
    if (await this.deps.blobs.listedByInfoHash(infoHash) !== undefined) return fromSeeder || peerId !== seederPeerId
    const record = await this.deps.records.byPrivateInfoHash(infoHash)
    if (!record || token === undefined || peerId === undefined) return false
    const claims = await this.deps.capabilities.check('tracker', token)
    if (claims?.infoHash !== infoHash) return false
    if (claims.sub === SEEDER_SUBJECT) return peerId === seederPeerId
    if (claims.sub !== record.owner || peerId === seederPeerId) return false
    if (event === 'stopped') this.admitted.forget(infoHash, peerId)
    else this.admitted.admit(infoHash, peerId, claims.expiresAt)
    return true
  }

  /**
   * May the seeder serve a private torrent to this peer (its handshake's peer id)? Only if the
   * tracker admitted that peer id to this torrent's swarm (admitAnnounce). Peer ids are chosen
   * by clients, but the tracker tells an admitted one only to other admitted peers.
   */
  admitsPeer (infoHash: string, peerId: string): boolean {
    return this.admitted.has(infoHash, peerId)
  }
}
