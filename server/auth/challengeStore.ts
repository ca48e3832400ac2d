/** Sign-in challenges: each nonce is answered once, before it expires. Kept in the database. */
import type { Db } from '../db/database.ts'

export interface ChallengeStore {
  save (nonce: string, message: string, expiresAt: number, now: number): Promise<void>
  /** The challenge's message if the nonce is known and not expired; it is gone afterwards either way. */
  take (nonce: string, now: number): Promise<string | undefined>
}

export class DatabaseChallengeStore implements ChallengeStore {
  constructor (private readonly db: Db) {}

  async save (nonce: string, message: string, expiresAt: number, now: number): Promise<void> {
    // Expired challenges nobody answered are cleared as new ones come in.
    await this.db.deleteFrom('auth_challenges').where('expires_at', '<', now).execute()
    await this.db.insertInto('auth_challenges').values({ nonce, message, expires_at: expiresAt }).execute()
  }

  async take (nonce: string, now: number): Promise<string | undefined> {
    // No nonce holds NUL, and PostgreSQL refuses to look one up with it.
    if (nonce.includes('\u0000')) return undefined
    // DELETE … RETURNING makes the check-and-consume one atomic step: a nonce works once.
    const row = await this.db.deleteFrom('auth_challenges').where('nonce', '=', nonce).returning(['message', 'expires_at']).executeTakeFirst()
    return row && row.expires_at >= now ? row.message : undefined
  }
}
