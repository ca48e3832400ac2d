/**
 * Whether seeder.json may be behind the database, kept in the database itself so a crash
 * cannot lose it: every change to the public listing inserts a row in its own transaction
 * (inserts never wait on each other, where one updated row would make every listing change
 * wait for the one before). The snapshot reads the newest row before it streams and, once the
 * file is in place, deletes the rows up to that one: a change made while it was written keeps
 * its row. A start with no row (and the file whole) writes nothing: a clean restart costs
 * nothing per stored file.
 */
import type { Db } from '../db/database.ts'

export class SeederJsonMark {
  constructor (private readonly db: Db) {}

  /** In the transaction that lists or unlists a file. */
  async mark (): Promise<void> {
    await this.db.insertInto('seeder_json_changes').defaultValues().execute()
  }

  /** The newest change not in the file yet, or undefined when seeder.json is up to date. */
  async token (): Promise<number | undefined> {
    const row = await this.db.selectFrom('seeder_json_changes').select(eb => eb.fn.max('id').as('id')).executeTakeFirst()
    return row?.id == null ? undefined : Number(row.id)
  }

  /** seeder.json now holds every change up to `token`. */
  async clear (token: number): Promise<void> {
    await this.db.deleteFrom('seeder_json_changes').where('id', '<=', token).execute()
  }
}
