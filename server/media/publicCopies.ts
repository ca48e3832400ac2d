/**
 * Public files' copies in the blob store (BlobStore.publicObjects: the bucket behind
 * S3_PUBLIC_URL), kept as the catalogue says: there while a file is listed (public), gone once it
 * is not. After a change of a file's listing commits (SeedChanges.follow) its state is read and
 * acted on, then read again until two reads agree, so of two nodes changing one file at once the
 * one that reads last decides. A copy goes before the answer to the change that made its file
 * private; one is made in the background (a copy of a large file takes a while). The background
 * pass (reconcile) mends what a crash between the commit and the copy left, and copies the files
 * that were public before S3_PUBLIC_URL was set.
 */
import type { BlobRepository } from '../catalog/blobRepository.ts'
import type { Logger } from '../logger.ts'
import type { PublicObjects } from '../storage/blobStore.ts'

const PAGE = 500

export class PublicCopies {
  /** Copies being made in the background. */
  private readonly making = new Set<Promise<void>>()
  /** Copies being made now, by file: one at a time each (the background check may want one too). */
  private readonly putting = new Map<string, Promise<void>>()

  constructor (private readonly objects: PublicObjects, private readonly blobs: BlobRepository, private readonly log: Logger) {}

  /** The copy's URL: a public torrent's web seed beside the node's own. */
  url (mediaId: string): string {
    return this.objects.url(mediaId)
  }

  /** A change of the file's listing committed: its copy follows (see above). */
  async follow (mediaId: string): Promise<void> {
    if (!await this.listed(mediaId)) {
      await this.sync(mediaId, false)
      return
    }
    const making: Promise<void> = this.sync(mediaId, true)
      .catch(err => this.log.warn({ mediaId, err: (err as Error).message }, 'could not copy a public file to S3_PUBLIC_URL; the background check tries again'))
      .finally(() => this.making.delete(making))
    this.making.add(making)
  }

  /**
   * Compare every copy with the catalogue, both in mediaId order (the bucket lists keys in that
   * order): a copy of a file not listed is deleted, a listed file without one gets it.
   */
  async reconcile (): Promise<{ made: number, removed: number }> {
    let made = 0
    let removed = 0
    const listed = this.listedIds()[Symbol.asyncIterator]()
    let next = await listed.next()
    const makeUpTo = async (mediaId?: string): Promise<void> => {
      for (; !next.done && (mediaId === undefined || next.value < mediaId); next = await listed.next()) {
        await this.put(next.value)
        made++
      }
    }
    for await (const copy of this.objects.list()) {
      await makeUpTo(copy)
      if (!next.done && next.value === copy) {
        next = await listed.next()
      } else if (!await this.listed(copy)) {
        await this.objects.remove(copy)
        removed++
      }
    }
    await makeUpTo()
    if (made > 0 || removed > 0) this.log.info({ made, removed }, 'public copies in the bucket brought in line with the catalogue')
    return { made, removed }
  }

  /** Wait for the copies being made (the server is closing). */
  async close (): Promise<void> {
    await Promise.all(this.making)
  }

  private async put (mediaId: string): Promise<void> {
    const now = this.putting.get(mediaId)
    if (now) return await now
    const put = this.objects.put(mediaId).finally(() => this.putting.delete(mediaId))
    this.putting.set(mediaId, put)
    await put
  }

  /** Make the copy there or not, until the catalogue says the same twice in a row. */
  private async sync (mediaId: string, listed: boolean): Promise<void> {
    for (;;) {
      if (listed) await this.put(mediaId)
      else await this.objects.remove(mediaId)
      const now = await this.listed(mediaId)
      if (now === listed) return
      listed = now
    }
  }

  private async listed (mediaId: string): Promise<boolean> {
    return ((await this.blobs.get(mediaId))?.listedAt ?? null) !== null
  }

  private async * listedIds (): AsyncIterable<string> {
    for (let after = ''; ;) {
      const page = await this.blobs.listedIds(PAGE, after)
      yield * page
      if (page.length < PAGE) return
      after = page.at(-1)!
    }
  }
}
