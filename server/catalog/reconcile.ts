/**
 * Make the blob store and the database agree, in the background. A folder no row holds (a crash
 * between an upload's rename and its record, or in a delete) is deleted once it was published
 * more than `graceMs` ago; a row whose bytes are gone is marked missing (never served, reported)
 * until they are back.
 *
 * Only the folders the journal names can disagree after a crash (blobJournal.ts), so that is all
 * a start and the periodic pass look at: their cost is the crash's leftovers, not the catalogue.
 * The whole walk (every folder, every row, a page at a time) is for what no step of ours noted:
 * a MEDIA_DIR or database restored from a backup, folders removed by hand (RECONCILE_ALL).
 */
import type { Logger } from '../logger.ts'
import type { KeyedMutex } from '../media/keyedMutex.ts'
import type { BlobStore } from '../storage/blobStore.ts'
import type { BlobJournal } from './blobJournal.ts'
import type { BlobRepository } from './blobRepository.ts'

/** Rows, notes and folders compared per step. */
const RECONCILE_PAGE = 500

export interface ReconcileDeps {
  store: BlobStore
  blobs: BlobRepository
  journal: BlobJournal
  /** The per-file lock new records and deletes take: a folder is collected only between them. */
  perMedia: KeyedMutex
  /** A note of a publish this process has under way (its fsyncs can outlast the grace): left alone. */
  publishing: (noteId: number) => boolean
  log: Logger
}

export interface Reconciled {
  collected: number
  /** Rows whose bytes were found gone by this pass. */
  missing: number
}

/**
 * Settle the folders the journal names, in notes older than `graceMs` and not of a publish under
 * way here (either may be an upload between its note and its rename). A note whose folder is still
 * within its grace stays for a later pass.
 */
export async function reconcileNoted (deps: ReconcileDeps, graceMs: number, signal?: AbortSignal): Promise<Reconciled> {
  const done: Reconciled = { collected: 0, missing: 0 }
  for (let after = 0; !signal?.aborted;) {
    const notes = await deps.journal.page(RECONCILE_PAGE, after)
    for (const note of notes) {
      if (signal?.aborted || Date.now() - note.at < graceMs || deps.publishing(note.id)) continue
      if (await settle(deps, note.mediaId, graceMs, done)) await deps.journal.done(note.id)
    }
    if (notes.length < RECONCILE_PAGE) break
    after = notes[notes.length - 1]!.id
  }
  return done
}

/** Compare every folder with the rows, and every row with the folders. */
export async function reconcileAll (deps: ReconcileDeps, graceMs: number, signal?: AbortSignal): Promise<Reconciled> {
  const { store, blobs } = deps
  const done: Reconciled = { collected: 0, missing: 0 }
  let batch: string[] = []
  const collect = async (): Promise<void> => {
    const known = await blobs.known(batch)
    for (const mediaId of batch) {
      if (!known.has(mediaId) && !signal?.aborted) await settle(deps, mediaId, graceMs, done)
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
      if (await store.has(row.mediaId) !== !row.missing) await settle(deps, row.mediaId, graceMs, done)
    }
    if (page.length < RECONCILE_PAGE) break
    after = page[page.length - 1]!.mediaId
  }
  return done
}

/** One file whose bytes a read found gone: its row is marked missing (or its folder collected). */
export async function reconcileOne (deps: ReconcileDeps, mediaId: string, graceMs: number): Promise<Reconciled> {
  const done: Reconciled = { collected: 0, missing: 0 }
  await settle(deps, mediaId, graceMs, done)
  return done
}

/**
 * Make one file's folder and row agree, under its lock: false while a folder no row holds is
 * still within its grace.
 */
async function settle ({ store, blobs, perMedia, log }: ReconcileDeps, mediaId: string, graceMs: number, done: Reconciled): Promise<boolean> {
  return await perMedia.run(mediaId, async () => {
    const row = await blobs.get(mediaId)
    const publishedAt = await store.publishedAt(mediaId)
    const present = publishedAt !== undefined
    if (!row) {
      if (!present) return true
      if (Date.now() - publishedAt < graceMs) return false
      await store.remove(mediaId)
      done.collected++
      log.warn({ mediaId }, 'collected a blob that no record holds (left by a crash or an interrupted delete)')
      return true
    }
    if (present === !row.missing) return true
    await blobs.setMissing(mediaId, !present)
    if (!present) {
      done.missing++
      log.error({ mediaId }, 'a stored file\'s bytes are missing from MEDIA_DIR: it is not served until they are back')
    }
    return true
  })
}
