/**
 * THE access policy: every door that can hand out bytes or reveal a file asks here: the API
 * (bytes, info, .torrent, listing), the web seed, the tracker and the seeder's BitTorrent
 * connections. Public media is open to everyone; private media only to its owner. Everyone else
 * gets what a missing id gets, so nothing tells them it exists.
 */
import { type Capabilities, SEEDER_SUBJECT } from '../auth/capabilities.ts'
import type { BlobRepository } from '../catalog/blobRepository.ts'
import type { RecordRepository } from '../records/recordRepository.ts'
import { SwarmAdmissions } from './swarmAdmissions.ts'

/** The public key of a signed-in caller, or undefined for an anonymous one. */
export type Caller = string | undefined

export interface AccessPolicyDeps {
  records: RecordRepository
  blobs: BlobRepository
  capabilities: Capabilities
  /** The server's own seeder's BitTorrent peer id (hex), once it runs. */
  seederPeerId: () => string | undefined
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

export class AccessPolicy {
  private readonly deps: AccessPolicyDeps
  private readonly admitted = new SwarmAdmissions()

  constructor (deps: AccessPolicyDeps) {
    this.deps = deps
  }

  /** May anyone read (bytes, info, .torrent, swarm) this media? */
  async isPublic (mediaId: string): Promise<boolean> {
    return await this.deps.records.hasPublic(mediaId)
  }

  async canRead (mediaId: string, caller: Caller): Promise<boolean> {
    return await this.isPublic(mediaId) || (caller !== undefined && await this.deps.records.get(mediaId, caller) !== undefined)
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
