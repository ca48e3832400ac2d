/**
 * Deletes: a caller's record goes, with its shares, and with the last record the file's row,
 * its seeding and its bytes. Runs under the per-file lock shared with new records, so a delete
 * of the last record never removes the bytes under a new one.
 */
import { loginRequired, notFound, unlessMissing } from '../../shared/errors.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { BlobJournal } from '../catalog/blobJournal.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { Logger } from '../logger.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import type { RecordThumbnails } from '../records/recordThumbnails.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'
import type { KeyedMutex } from './keyedMutex.ts'
import { SeedChanges } from './seedChanges.ts'

export interface RemovalDeps {
  access: AccessPolicy
  catalog: Catalog
  seeder: MediaSeeder
  /** Takes out a delete's note once its folder is gone (catalog/blobJournal.ts). */
  journal: BlobJournal
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  /** One change at a time per file (shared with new records and reconcile). */
  perMedia: KeyedMutex
  /** The thumbnails signed records name: they go with their file. */
  thumbnails: RecordThumbnails
  log: Logger
}

export class Removal {
  private readonly deps: RemovalDeps

  constructor (deps: RemovalDeps) {
    this.deps = deps
  }

  /**
   * Remove the caller's record; the bytes, torrent and seeding go when nobody holds them. The
   * thumbnails its signed records named go with it, unless another of the caller's records
   * names them too.
   */
  async remove (mediaId: string, caller: Caller): Promise<void> {
    if (caller === undefined) throw loginRequired()
    const { perMedia, thumbnails } = this.deps
    // Read first: the delete drops the records that name them.
    const named = await thumbnails.of(mediaId, caller)
    await perMedia.run(mediaId, async () => await this.removeNow(mediaId, caller))
    for (const id of named) {
      if (await thumbnails.isNamed(id, caller)) continue
      await perMedia.run(id, async () => await this.removeNow(id, caller)).catch(unlessMissing)
    }
  }

  /** Delete a file no record holds: its row, then its bytes (call it under the file's lock). */
  async removeIfHeldByNobody (mediaId: string, why: string): Promise<void> {
    const { catalog, log, transaction } = this.deps
    const note = await transaction(async tx => {
      if (await tx.records.count(mediaId) > 0) return undefined
      await tx.blobs.remove(mediaId)
      return await tx.journal.note(mediaId)
    })
    if (note === undefined) return
    if (await catalog.store.has(mediaId)) {
      await catalog.store.remove(mediaId)
      log.info({ mediaId }, why)
    }
    await this.deps.journal.done(note)
  }

  /**
   * One transaction forgets the record, its OIP records, its shares, its seeding state, and the
   * file's row when nobody holds it any more; the seeder, the private swarm's admissions and the
   * bytes follow. A crash after the transaction leaves a folder no row holds, noted in the
   * journal in that transaction and collected by reconcile.
   */
  private async removeNow (mediaId: string, caller: string): Promise<void> {
    const { seeder, transaction, catalog, log, access } = this.deps
    await access.require(caller, 'own', mediaId)
    const { changes, heldByNobody } = await transaction(async tx => {
      // The owner's lock first, as every change of records takes it, so no two changes wait on each other in a circle.
      await tx.records.lockOwner(caller)
      const record = await tx.records.get(mediaId, caller)
      if (!record || !await tx.records.remove(mediaId, caller)) throw notFound()
      await tx.oipRecords.removeForMedia(mediaId, caller)
      await tx.shares.removeAll(mediaId, caller)
      const blob = await tx.blobs.get(mediaId)
      const changes = new SeedChanges(tx, catalog)
      if (record.privateInfoHash) {
        await changes.unseed(record.privateInfoHash)
      } else if (blob && !await changes.unlistUnlessPublic(blob) && record.pinned) {
        // Other public records hold it: its torrent stays pinned while one of them pins it.
        await changes.pinAsPublicRecordsSay(mediaId, blob.infoHash)
      }
      let heldByNobody: number | undefined
      if (await tx.records.count(mediaId) === 0) {
        await tx.blobs.remove(mediaId)
        heldByNobody = await tx.journal.note(mediaId)
      }
      return { changes, heldByNobody }
    })
    crashPoint('mid-delete')
    await changes.follow(seeder, access, log)
    if (heldByNobody !== undefined) {
      await catalog.store.remove(mediaId)
      await this.deps.journal.done(heldByNobody)
      log.info({ mediaId }, 'last record removed: blob deleted')
    }
  }
}
