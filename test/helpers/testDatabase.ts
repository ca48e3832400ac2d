/** A test's own database of a describeEachDatabase kind, opened (schema migrated) and closed when the test ends. */
import type { TestContext } from 'node:test'
import { openDatabase, type Database } from '../../server/db/database.ts'
import type { DatabaseKind } from './postgres.ts'

export async function openTestDatabase (kind: DatabaseKind, t: TestContext): Promise<Database> {
  const database = await openDatabase((await kind.newDatabase()).options)
  // An open pool would hold the PostgreSQL server's smart shutdown until its idle timeout.
  t.after(async () => { await database.close() })
  return database
}
