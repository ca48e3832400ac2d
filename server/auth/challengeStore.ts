/** Sign-in challenges: each nonce is answered once, before it expires. Kept in SQLite. */
import type { Db } from '../records/database.ts'

export interface ChallengeStore {
  save (nonce: string, message: string, expiresAt: number, now: number): void
  /** The challenge's message if the nonce is known and not expired; it is gone afterwards either way. */
  take (nonce: string, now: number): string | undefined
}

export class SqliteChallengeStore implements ChallengeStore {
  constructor (private readonly db: Db) {}

  save (nonce: string, message: string, expiresAt: number, now: number): void {
    // Expired challenges nobody answered are cleared as new ones come in.
    this.db.prepare('DELETE FROM auth_challenges WHERE expires_at < ?').run(now)
    this.db.prepare('INSERT INTO auth_challenges (nonce, message, expires_at) VALUES (?, ?, ?)').run(nonce, message, expiresAt)
  }

  take (nonce: string, now: number): string | undefined {
    // DELETE … RETURNING makes the check-and-consume one atomic step: a nonce works once.
    const row = this.db.prepare('DELETE FROM auth_challenges WHERE nonce = ? RETURNING message, expires_at').get(nonce) as { message: string, expires_at: number } | undefined
    return row && row.expires_at >= now ? row.message : undefined
  }
}
