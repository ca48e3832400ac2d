/**
 * Make the blob store and the database agree, a page at a time, in the background: a folder no
 * row holds (a crash between publish and record, or in a delete) is deleted once it was
 * published more than `graceMs` ago, and a row whose bytes are gone is marked missing (never
 * served, reported) until they are back.
 */
import type { Logger } from '../logger.ts'
import type { KeyedMutex } from '../media/keyedMutex.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import type { BlobRepository } from './blobRepository.ts'

/** Rows and folders compared per step. */
const RECONCILE_PAGE = 500

export interface ReconcileDeps {
  store: BlobStore
  blobs: BlobRepository
  /** The per-file lock new records and deletes take: a folder is collected only between them. */
  perMedia: KeyedMutex
  log: Logger
}

export async function reconcile ({ store, blobs, perMedia, log }: ReconcileDeps, graceMs: number, signal?: AbortSignal): Promise<{ collected: number, missing: number }> {
  let collected = 0
  let batch: string[] = []
  const collect = async (): Promise<void> => {
    const known = await blobs.known(batch)
    for (const mediaId of batch) {
      if (known.has(mediaId) || signal?.aborted) continue
      await perMedia.run(mediaId, async () => {
        const publishedAt = await store.publishedAt(mediaId)
        if (await blobs.get(mediaId) || publishedAt === undefined || Date.now() - publishedAt < graceMs) return
        await store.remove(mediaId)
        collected++
        log.warn({ mediaId }, 'collected a blob that no record holds (left by a crash or an interrupted delete)')
      })
    }
    batch = []
  }
  for await (const mediaId of store.list()) {
    if (signal?.aborted) break
    batch.push(mediaId)
    if (batch.length >= RECONCILE_PAGE) await collect()
  }
  await collect()
  for (let after = ''; !signal?.aborted;) {
    const page = await blobs.page(RECONCILE_PAGE, after)
    for (const row of page) {
      const present = await store.has(row.mediaId)
      if (present === !row.missing) continue
      await blobs.setMissing(row.mediaId, !present)
      if (!present) log.error({ mediaId: row.mediaId }, 'a stored file\'s bytes are missing from MEDIA_DIR: it is not served until they are back')
    }
    if (page.length < RECONCILE_PAGE) break
    after = page[page.length - 1]!.mediaId
  }
  return { collected, missing: await blobs.missingCount() }
}
