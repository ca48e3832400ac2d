/**
 * Pins: an owner keeps their file's torrent active in the seeder. Pins are kept in the database,
 * so they outlive restarts; each key has its own allowance, and all pins together take at most
 * half of the seeder's active slots.
 */
import { AppError, loginRequired, notFound } from '../../shared/errors.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { MediaRecord, RecordRepository } from '../records/recordRepository.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'
import type { Quotas } from './quotas.ts'
import type { SeedingStatus } from './views.ts'

export interface PinsDeps {
  access: AccessPolicy
  catalog: Catalog
  records: RecordRepository
  seeder: MediaSeeder
  quotas: Quotas
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
}

export class Pins {
  private readonly deps: PinsDeps

  constructor (deps: PinsDeps) {
    this.deps = deps
  }

  /**
   * Pin the caller's file (keep its torrent active in the seeder) or unpin it. Only owners may;
   * anyone else gets the not-found answer. A public torrent is pinned while any public record
   * pins it.
   */
  async pin (mediaId: string, caller: Caller, pinned: boolean): Promise<{ mediaId: string, pinned: boolean, seeding: SeedingStatus }> {
    if (caller === undefined) throw loginRequired()
    const { seeder, transaction, quotas } = this.deps
    const record = (await this.deps.access.require(caller, 'own', mediaId)).own!
    const infoHash = await this.seededHash(record)
    const seedPinned = await transaction(async tx => {
      // Counted in the transaction, one pin change at a time per key and for the server's slots,
      // so pins made at the same time cannot all pass the checks.
      await tx.records.lockOwner(caller)
      const now = await tx.records.get(mediaId, caller)
      // The record may have been deleted meanwhile (a delete takes the owner's lock too, so not after this).
      if (!now) throw notFound()
      // A pin counts against the pinner's own allowance first, so no key can take the shared slots alone.
      if (pinned && !now.pinned) quotas.admitPin(caller, await tx.records.pinnedCount(caller))
      await tx.records.setPinned(mediaId, caller, pinned)
      const seedPinned = record.accessLevel === 'public' ? await tx.records.hasPinnedPublic(mediaId) : pinned
      await tx.seeds.lockPinSlots()
      const seed = await tx.seeds.get(infoHash)
      if (seedPinned && seed?.pinned === false && await tx.seeds.pinnedCount() >= seeder.maxPinned) {
        throw new AppError(409, 'pin_limit', `Pinned files may take at most ${seeder.maxPinned} of the server's active torrents (half of SEED_MAX_ACTIVE), and all are taken. Unpin another file first, or ask the operator to raise SEED_MAX_ACTIVE.`)
      }
      await tx.seeds.setPinned(infoHash, seedPinned)
      return seedPinned
    })
    await seeder.setPinned(infoHash, seedPinned)
    return { mediaId, pinned, seeding: { ...await seeder.status(infoHash), pinned } }
  }

  /** The infoHash of the torrent the server seeds for a record. */
  private async seededHash (record: MediaRecord): Promise<string> {
    return record.privateInfoHash ?? (await this.deps.catalog.manifest(record.mediaId)).infoHash
  }
}
