/**
 * Whether seeder.json may be behind the database, kept in the database itself so a crash
 * cannot lose it. Every change to the public listing writes a new random token in its own
 * transaction; the snapshot reads the token before it streams and, once the file is in place,
 * removes the mark only if the token is still the one it read. So a change made while the
 * snapshot was written keeps the mark, and a start with no mark (and the file present) writes
 * nothing: a clean restart costs nothing per stored file.
 */
import { randomBytes } from 'node:crypto'
import type { Db } from '../db/database.ts'
import { SEEDER_JSON_STALE } from '../db/migrations.ts'

export class SeederJsonMark {
  constructor (private readonly db: Db) {}

  /** In the transaction that lists or unlists a file. */
  async mark (): Promise<void> {
    const value = randomBytes(9).toString('base64url')
    await this.db.insertInto('catalog_meta').values({ key: SEEDER_JSON_STALE, value })
      .onConflict(oc => oc.column('key').doUpdateSet({ value })).execute()
  }

  /** The current mark, or undefined when seeder.json is up to date. */
  async token (): Promise<string | undefined> {
    return (await this.db.selectFrom('catalog_meta').select('value').where('key', '=', SEEDER_JSON_STALE).executeTakeFirst())?.value
  }

  /** seeder.json now holds everything up to the change that wrote `token`. */
  async clear (token: string): Promise<void> {
    await this.db.deleteFrom('catalog_meta').where('key', '=', SEEDER_JSON_STALE).where('value', '=', token).execute()
  }
}
