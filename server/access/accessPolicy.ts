/**
 * THE access policy: every door that can hand out bytes or reveal a file asks here: the API
 * (bytes, info, .torrent, listing), the web seed and the tracker. Public media is open to
 * everyone; private media only to its owner. Everyone else gets what a missing id gets, so
 * nothing tells them it exists.
 */
import { type Capabilities, SEEDER_SUBJECT } from '../auth/capabilities.ts'
import type { RecordRepository } from '../records/recordRepository.ts'

/** The public key of a signed-in caller, or undefined for an anonymous one. */
export type Caller = string | undefined

export interface AccessPolicyDeps {
  records: RecordRepository
  capabilities: Capabilities
}

export class AccessPolicy {
  private readonly deps: AccessPolicyDeps

  constructor (deps: AccessPolicyDeps) {
    this.deps = deps
  }

  /** May anyone read (bytes, info, .torrent, swarm) this media? */
  isPublic (mediaId: string): boolean {
    return this.deps.records.hasPublic(mediaId)
  }

  canRead (mediaId: string, caller: Caller): boolean {
    return this.isPublic(mediaId) || (caller !== undefined && this.deps.records.get(mediaId, caller) !== undefined)
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
   * May a peer announce this infoHash to our tracker? Public torrents: anyone. A private
   * record's torrent: only with its owner's tracker capability (or our own seeder's).
   */
  async canAnnounce (infoHash: string, token: string | undefined): Promise<boolean> {
    if (this.deps.records.byPublicInfoHash(infoHash) !== undefined) return true
    const record = this.deps.records.byPrivateInfoHash(infoHash)
    if (!record || token === undefined) return false
    const sub = (await this.deps.capabilities.check('tracker', token))?.sub
    return sub === record.owner || sub === SEEDER_SUBJECT
  }
}
