/**
 * THE access policy: every door that can hand out bytes or reveal a file (API, web seed,
 * .torrent, tracker) asks here. Until identity lands nobody can prove ownership, so private
 * media is readable by no one: the same 404 as a missing id.
 */
import type { RecordRepository } from '../records/recordRepository.ts'

export class AccessPolicy {
  private readonly records: RecordRepository

  constructor (records: RecordRepository) {
    this.records = records
  }

  /** May anyone read (bytes, info, .torrent, swarm) this media? */
  isPublic (mediaId: string): boolean {
    return this.records.hasPublic(mediaId)
  }

  canRead (mediaId: string): boolean {
    return this.isPublic(mediaId)
  }
}
