/**
 * Folders that may disagree with their rows, so that a start reconciles a handful of them rather
 * than the whole catalogue. Only two kinds of step can leave a folder without a row: an upload's
 * rename (the bytes' commit point) before its record transaction, and a delete's transaction
 * before the folder is removed (a record's delete, or bytes no record came to hold). Each notes
 * the folder first (an upload before the rename; a delete inside its transaction) and takes its
 * own note out once the step is complete (an upload in its record transaction). A crash in between leaves the note, and the reconcile finds it. Notes are rows
 * of their own, taken out by id, so two uploads of the same bytes never take out each other's.
 */
import type { Db } from '../db/database.ts'

export interface JournalNote {
  id: number
  mediaId: string
  at: number
}

export class BlobJournal {
  constructor (private readonly db: Db) {}

  /** Note that `mediaId`'s folder is about to change; its id takes the note out. */
  async note (mediaId: string, at = Date.now()): Promise<number> {
    const row = await this.db.insertInto('blob_journal').values({ media_id: mediaId, at }).returning('id').executeTakeFirstOrThrow()
    return Number(row.id)
  }

  async done (id: number): Promise<void> {
    await this.db.deleteFrom('blob_journal').where('id', '=', id).execute()
  }

  /** The oldest notes, after `afterId`. */
  async page (limit: number, afterId = 0): Promise<JournalNote[]> {
    const rows = await this.db.selectFrom('blob_journal').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute()
    return rows.map(r => ({ id: Number(r.id), mediaId: r.media_id, at: Number(r.at) }))
  }
}
