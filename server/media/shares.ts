/**
 * Shares: an owner lets chosen keys read a private file through their record (bytes, info,
 * .torrent, web seed, swarm, each with capabilities issued to the recipient), until a time or
 * until revoked. Shares live in the database, which every door asks at use, so a revoke holds on
 * any node at once; in this process it also ends the recipient's swarm admissions and closes
 * their connections before the answer goes (AccessPolicy.shareRevoked).
 */
import { AppError, badRequest, loginRequired, notFound } from '../../shared/errors.ts'
import type { ShareView } from '../../shared/media.ts'
import { isValidPublicKey } from '../../shared/wallet.ts'
import type { AccessPolicy, Caller } from '../access/accessPolicy.ts'
import type { CatalogRepositories } from '../catalog/catalogRepositories.ts'
import type { MediaShare, ShareRepository } from '../records/shareRepository.ts'
import type { KeyedMutex } from './keyedMutex.ts'

/** Live shares one record may have: a private file is for a few chosen keys, and its owner's listing shows them all. */
export const MAX_SHARES_PER_FILE = 1000

/** Expired shares a sweep forgets per statement (each is one OR of primary keys). */
const SWEEP_BATCH = 100

/** The times the API takes: ISO 8601 with a time and a zone, as Date.toISOString() writes them. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/

export interface SharesDeps {
  access: AccessPolicy
  shares: ShareRepository
  /** Runs `fn` as one database transaction on the repositories it is given: all of it is written, or none. */
  transaction: <T>(fn: (tx: CatalogRepositories) => Promise<T>) => Promise<T>
  /** One change at a time per file: a public upload of the same bytes cannot slip between the check and the share. */
  perMedia: KeyedMutex
}

export const shareView = (share: Pick<MediaShare, 'recipient' | 'expiresAt' | 'createdAt'>): ShareView => ({
  publicKey: share.recipient,
  expiresAt: share.expiresAt === null ? null : new Date(share.expiresAt).toISOString(),
  createdAt: new Date(share.createdAt).toISOString()
})

export class Shares {
  private readonly deps: SharesDeps

  constructor (deps: SharesDeps) {
    this.deps = deps
  }

  /** The live shares of the caller's record of this file, oldest first. */
  async list (mediaId: string, caller: Caller): Promise<{ shares: ShareView[] }> {
    if (caller === undefined) throw loginRequired()
    await this.deps.access.require(caller, 'own', mediaId)
    const shares = (await this.deps.shares.ofRecords(caller, [mediaId], Date.now())).get(mediaId) ?? []
    return { shares: shares.map(shareView) }
  }

  /**
   * Share the caller's private record with `recipient` until `expiresAt` (or until revoked), or
   * change the expiry of their share. Checked again in the transaction, under the file's lock
   * (uploads, deletes and edits take it) and the owner's.
   */
  async put (mediaId: string, caller: Caller, recipient: string, body: Record<string, unknown>): Promise<ShareView> {
    if (caller === undefined) throw loginRequired()
    checkRecipient(recipient)
    if (recipient === caller) throw badRequest('bad_public_key', 'That is your own key: you hold this file already. Share it with another key.')
    const expiresAt = expiryOf(body)
    const { access, transaction, perMedia } = this.deps
    await access.require(caller, 'own', mediaId)
    const { share, before, infoHash } = await perMedia.run(mediaId, async () => await transaction(async tx => {
      await tx.records.lockOwner(caller)
      const record = await tx.records.get(mediaId, caller)
      if (!record) throw notFound()
      if (record.accessLevel === 'public' || (await tx.blobs.get(mediaId))?.listedAt != null) {
        throw new AppError(409, 'already_public', 'This file is public on this server: everyone can read it already, so there is nothing to share. Shares are for private files.')
      }
      const now = Date.now()
      // Expired shares go here, so a file's rows stay within the limit however often it is shared anew.
      await tx.shares.removeExpired(mediaId, caller, now)
      if (!await tx.shares.live(mediaId, caller, recipient, now) && await tx.shares.liveCount(mediaId, caller, now) >= MAX_SHARES_PER_FILE) {
        throw new AppError(409, 'share_limit', `A file may be shared with at most ${MAX_SHARES_PER_FILE} keys at once. Revoke a share you no longer need first.`)
      }
      return { ...await tx.shares.put({ mediaId, owner: caller, recipient, expiresAt }, now), infoHash: record.privateInfoHash! }
    }))
    // Peers the recipient has in the swarm are bounded by the share's new expiry from now on.
    if (before) await access.shareExpiryChanged(infoHash, recipient, share.expiresAt)
    return shareView(share)
  }

  /** Revoke `recipient`'s share (nothing to revoke is no error): every door refuses them from now on, connections included. */
  async revoke (mediaId: string, caller: Caller, recipient: string): Promise<void> {
    if (caller === undefined) throw loginRequired()
    checkRecipient(recipient)
    const { access, transaction } = this.deps
    await access.require(caller, 'own', mediaId)
    const infoHash = await transaction(async tx => {
      await tx.records.lockOwner(caller)
      const record = await tx.records.get(mediaId, caller)
      if (!record) throw notFound()
      await tx.shares.remove(mediaId, caller, recipient)
      return record.privateInfoHash
    })
    if (infoHash) await access.shareRevoked(infoHash, recipient)
  }
}

/** Forget every expired share (they read as no share already; their rows would pile up); how many went. */
export async function sweepExpiredShares (shares: ShareRepository, now = Date.now()): Promise<number> {
  let removed = 0
  for (;;) {
    const n = await shares.removeExpiredBatch(now, SWEEP_BATCH)
    removed += n
    if (n < SWEEP_BATCH) return removed
  }
}

function checkRecipient (recipient: string): void {
  if (!isValidPublicKey(recipient)) {
    throw badRequest('bad_public_key', 'The key to share with must be a compressed secp256k1 public key: 66 lowercase hex characters starting with 02 or 03, as the recipient\'s page shows it.')
  }
}

/** A share's expiry from the body (ms), or null for none; a 400 naming the field for anything else. */
function expiryOf (body: Record<string, unknown>): number | null {
  for (const field of Object.keys(body)) {
    if (field !== 'expiresAt') throw badRequest('bad_field', `Unknown field "${field}": a share takes only "expiresAt".`)
  }
  const { expiresAt } = body
  if (expiresAt === undefined || expiresAt === null) return null
  const at = typeof expiresAt === 'string' && ISO_TIME.test(expiresAt) ? Date.parse(expiresAt) : NaN
  if (!Number.isFinite(at)) throw badRequest('bad_field', '"expiresAt" must be an ISO 8601 time such as 2030-01-31T12:00:00.000Z, or null for a share that lasts until revoked.')
  if (at <= Date.now()) throw badRequest('bad_field', '"expiresAt" is in the past: give a time in the future, or null for a share that lasts until revoked.')
  return at
}
