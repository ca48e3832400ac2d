/**
 * Listing cursors: where the last page ended, as an opaque string. They name a position in the
 * caller's own view (a time and a mediaId it was shown), never a row number, so a cursor tells
 * nothing about how many records other keys made.
 */
import { badRequest } from '../../shared/errors.ts'
import { isMediaId } from '../../shared/media.ts'
import { isPublicKey } from '../../shared/wallet.ts'

/** `owner`: in "shared with me", the key that shared it (one file may be shared by two owners). */
export interface ListingPosition { at: string, mediaId: string, owner?: string }

export function encodeCursor (position: ListingPosition): string {
  const { at, mediaId, owner } = position
  return Buffer.from(JSON.stringify(owner === undefined ? [at, mediaId] : [at, mediaId, owner])).toString('base64url')
}

export function decodeCursor (cursor: string): ListingPosition {
  try {
    const [at, mediaId, owner] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[]
    if (typeof at === 'string' && at.length <= 40 && typeof mediaId === 'string' && isMediaId(mediaId)) {
      if (owner === undefined) return { at, mediaId }
      if (isPublicKey(owner)) return { at, mediaId, owner }
    }
  } catch {}
  throw badRequest('bad_cursor', 'cursor must be the nextCursor of a previous page.')
}
