/**
 * THE access policy: every door that can hand out bytes or reveal a file (API, web seed,
 * .torrent, tracker) asks here. Public media is open to everyone; private media only to its
 * owner. Everyone else gets what a missing id gets, so nothing tells them it exists.
 */
import type { RecordRepository } from '../records/recordRepository.ts'

/** The public key of a signed-in caller, or undefined for an anonymous one. */
export type Caller = string | undefined

export class AccessPolicy {
  private readonly records: RecordRepository

  constructor (records: RecordRepository) {
    this.records = records
  }

  /** May anyone read (bytes, info, .torrent, swarm) this media? */
  isPublic (mediaId: string): boolean {
    return this.records.hasPublic(mediaId)
  }

  canRead (mediaId: string, caller: Caller): boolean {
    return this.isPublic(mediaId) || (caller !== undefined && this.records.get(mediaId, caller) !== undefined)
  }
}
