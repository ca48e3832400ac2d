/**
 * Pins: an owner keeps their file's torrent active in the seeder. Pins are kept in the database,
 * so they outlive restarts; each key has its own allowance, and all pins together take at most
 * half of the seeder's active slots.
 */
import { AppError, loginRequired, notFound } from '../../shared/errors.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { Quotas } from './quotas.ts'
import type { SeedingStatus } from './views.ts'

export interface PinsDeps {
  access: AccessPolicy
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
    await this.deps.access.require(caller, 'own', mediaId)
    const { infoHash, seedPinned } = await transaction(async tx => {
      // Counted in the transaction, one pin change at a time per key and for the server's slots,
      // so pins made at the same time cannot all pass the checks.
      await tx.records.lockOwner(caller)
      // The record as it is now: a delete or an access change takes the owner's lock too, so not after this.
      const record = await tx.records.get(mediaId, caller)
      const infoHash = record && (record.privateInfoHash ?? (await tx.blobs.get(mediaId))?.infoHash)
      if (!record || !infoHash) throw notFound()
      // A pin counts against the pinner's own allowance first, so no key can take the shared slots alone.
      if (pinned && !record.pinned) quotas.admitPin(caller, await tx.records.pinnedCount(caller))
      // The pin-slot lock before the other records' pins are read: one pin change at a time per torrent too.
      await tx.seeds.lockPinSlots()
      await tx.records.setPinned(mediaId, caller, pinned)
      const seedPinned = record.accessLevel === 'public' ? await tx.records.hasPinnedPublic(mediaId) : pinned
      const seed = await tx.seeds.get(infoHash)
      if (seedPinned && seed?.pinned === false && await tx.seeds.pinnedCount() >= seeder.maxPinned) throw pinLimit(seeder.maxPinned)
      await tx.seeds.setPinned(infoHash, seedPinned)
      return { infoHash, seedPinned }
    })
    await seeder.setPinned(infoHash, seedPinned)
    return { mediaId, pinned, seeding: { ...await seeder.status(infoHash), pinned } }
  }
}

/** Every pin slot of the server is taken (SEED_MAX_ACTIVE / 2). */
export const pinLimit = (maxPinned: number): AppError => new AppError(409, 'pin_limit',
  `Pinned files may take at most ${maxPinned} of the server's active torrents (half of SEED_MAX_ACTIVE), and all are taken. Unpin another file first, or ask the operator to raise SEED_MAX_ACTIVE.`)
