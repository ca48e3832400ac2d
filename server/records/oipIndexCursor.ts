/**
 * Where the Arweave indexer got to on a gateway (table oip_index_cursor): the GraphQL cursor
 * after the last item it read, per gateway URL, since a cursor means nothing to another gateway.
 */
import type { Db } from '../db/database.ts'

export class OipIndexCursor {
  private readonly db: Db
  private readonly gateway: string

  constructor (db: Db, gateway: string) {
    this.db = db
    this.gateway = gateway
  }

  /** undefined: this gateway was never read, start from its first item. */
  async get (): Promise<string | undefined> {
    const row = await this.db.selectFrom('oip_index_cursor').select('cursor').where('gateway', '=', this.gateway).executeTakeFirst()
    return row?.cursor
  }

  async set (cursor: string, now: number): Promise<void> {
    await this.db.insertInto('oip_index_cursor').values({ gateway: this.gateway, cursor, updated_at: now })
      .onConflict(oc => oc.column('gateway').doUpdateSet({ cursor, updated_at: now })).execute()
  }
}
