/**
 * What a file's records decide about its public face and the torrents the server seeds, written
 * in the transaction that changes the records: the first public record lists the file (its face
 * takes that record's name and type) and seeds its public torrent; when the last public record
 * goes (deleted, or made private) the file is unlisted and its public torrent no longer seeded.
 * Uploads, access changes and deletes all go through here. The seeder follows once the
 * transaction commits (follow); a crash in between leaves the database right, and the next
 * start seeds what it says.
 */
import type { AccessPolicy } from '../access/accessPolicy.ts'
import type { BlobRow } from '../catalog/blobRepository.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { Logger } from '../logger.ts'
import { crashPoint } from '../ops/crashPoint.ts'
import type { MediaSeeder } from '../seeder/mediaSeeder.ts'
import type { Catalog } from './catalog.ts'

export class SeedChanges {
  private readonly started = new Set<string>()
  private readonly dropped = new Set<string>()
  private readonly pins = new Map<string, boolean>()
  /** Files listed or unlisted: their public copies follow. */
  private readonly listings = new Set<string>()

  /** `tx`: the transaction the changes are written in. */
  constructor (private readonly tx: CatalogRepositories, private readonly catalog: Catalog) {}

  /**
   * Make the file public: its face takes this name and type, it is listed, and its public
   * torrent seeded. A face renamed changes its infoHash; that disturbs no swarm, as no public
   * torrent of the file is tracked or seeded while it is unlisted (a torrent of an earlier public
   * time is gone with it).
   * The face as it is now.
   */
  async list (blob: BlobRow, upload: { originalName: string, mimeType: string }, now: number): Promise<BlobRow> {
    const { tx, catalog } = this
    if (blob.name !== upload.originalName || blob.mimeType !== upload.mimeType) {
      const face = catalog.renamedFace(blob, upload.originalName, upload.mimeType)
      await tx.blobs.setFace(blob.mediaId, face)
      blob = { ...blob, ...face }
      crashPoint('in-record-transaction')
    }
    await tx.blobs.setListed(blob.mediaId, now)
    await this.seed({ infoHash: blob.infoHash, mediaId: blob.mediaId, kind: 'public', pinned: false, at: now })
    this.listings.add(blob.mediaId)
    return { ...blob, listedAt: now }
  }

  /**
   * No public record of the file is left: unlist it and stop seeding its public torrent, so
   * nobody without a record of their own reaches it any more. True when it was unlisted.
   */
  async unlistUnlessPublic (blob: BlobRow): Promise<boolean> {
    const { tx } = this
    if (blob.listedAt === null || await tx.records.hasPublic(blob.mediaId)) return false
    await tx.blobs.setListed(blob.mediaId, null)
    await this.unseed(blob.infoHash)
    this.listings.add(blob.mediaId)
    return true
  }

  /** Seed a torrent (a record's private one, or a listed file's public one); it comes up after commit. */
  async seed (seed: Parameters<CatalogRepositories['seeds']['add']>[0]): Promise<void> {
    await this.tx.seeds.add(seed)
    this.dropped.delete(seed.infoHash)
    this.started.add(seed.infoHash)
  }

  /** Seed it no more; it leaves the seeding client after commit. */
  async unseed (infoHash: string): Promise<void> {
    await this.tx.seeds.remove(infoHash)
    this.started.delete(infoHash)
    this.dropped.add(infoHash)
  }

  /**
   * A public file's torrent stays pinned while any public record of it pins it. Read under the
   * pin-slot lock that every pin change takes, so a pin another key commits meanwhile is counted
   * (on PostgreSQL each statement sees what committed before it).
   */
  async pinAsPublicRecordsSay (mediaId: string, infoHash: string): Promise<void> {
    await this.tx.seeds.lockPinSlots()
    await this.pin(infoHash, await this.tx.records.hasPinnedPublic(mediaId))
  }

  /** Keep a seeded torrent active (pinned) or let it go idle in its turn. */
  async pin (infoHash: string, pinned: boolean): Promise<void> {
    await this.tx.seeds.setPinned(infoHash, pinned)
    this.pins.set(infoHash, pinned)
  }

  /**
   * After commit: the seeder takes up what the transaction wrote, a private torrent no longer
   * seeded admits nobody to its swarm (the same record made again may seed the same infoHash),
   * and public copies in the bucket follow the listing. A torrent that cannot start, or a copy
   * that cannot be deleted now, is logged, not thrown (the change is stored; the background
   * check deletes the copy).
   */
  async follow (seeder: MediaSeeder, access: AccessPolicy, log: Logger): Promise<void> {
    for (const infoHash of this.dropped) {
      await seeder.drop(infoHash)
      await access.swarmEnded(infoHash)
    }
    for (const mediaId of this.listings) {
      await this.catalog.publicCopies?.follow(mediaId)
        .catch(err => log.error({ mediaId, err: (err as Error).message }, 'could not delete the public copy of a file made private; the background check tries again'))
    }
    if (this.listings.size > 0) seeder.snapshot.changed()
    for (const [infoHash, pinned] of this.pins) {
      if (!this.dropped.has(infoHash)) await seeder.setPinned(infoHash, pinned)
    }
    for (const infoHash of this.started) {
      await seeder.start(infoHash).catch(err => log.error({ infoHash, err: (err as Error).message }, 'could not start seeding'))
    }
  }
}
