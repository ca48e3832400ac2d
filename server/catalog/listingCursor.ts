/**
 * Listing cursors: where the last page ended, as an opaque string. They name a position in the
 * caller's own view (a time and a mediaId it was shown), never a row number, so a cursor tells
 * nothing about how many records other keys made.
 */
import { badRequest } from '../../shared/errors.ts'
import { isMediaId } from '../../shared/media.ts'

export interface ListingPosition { at: string, mediaId: string }

export function encodeCursor (position: ListingPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.mediaId])).toString('base64url')
}

export function decodeCursor (cursor: string): ListingPosition {
  try {
    const [at, mediaId] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[]
    if (typeof at === 'string' && at.length <= 40 && typeof mediaId === 'string' && isMediaId(mediaId)) return { at, mediaId }
  } catch {}
  throw badRequest('bad_cursor', 'cursor must be the nextCursor of a previous page.')
}
