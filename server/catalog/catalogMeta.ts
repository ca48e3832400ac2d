/**
 * Marks the catalogue keeps about itself in `catalog_meta`: work a migration left for the next
 * start (importing an older MEDIA_DIR, comparing every folder once), set by the migration and
 * cleared when the work is done.
 */
import type { Db } from '../db/database.ts'

export class CatalogMeta {
  constructor (private readonly db: Db) {}

  async has (key: string): Promise<boolean> {
    return await this.db.selectFrom('catalog_meta').select('key').where('key', '=', key).executeTakeFirst() !== undefined
  }

  async clear (key: string): Promise<void> {
    await this.db.deleteFrom('catalog_meta').where('key', '=', key).execute()
  }
}
