import { badRequest } from '../../shared/errors.ts'

const MAX_PAGE = 100

/** `limit` (1–100, default 50) from the query. */
export function pageLimit (limit: string | undefined): number {
  const n = limit === undefined ? 50 : Number(limit)
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw badRequest('bad_limit', `limit must be a whole number from 1 to ${MAX_PAGE}.`)
  return n
}

/** `limit` and a numeric `cursor` (a previous page's nextCursor) from the query. */
export function pageQuery (limit: string | undefined, cursor: string | undefined): { limit: number, cursor?: number } {
  const n = pageLimit(limit)
  if (cursor === undefined) return { limit: n }
  const c = Number(cursor)
  // Safe integers only: past 2^53 a cursor is not exact, and PostgreSQL's bigint refuses 1e+30.
  if (!Number.isSafeInteger(c) || c < 1) throw badRequest('bad_cursor', 'cursor must be the nextCursor of a previous page.')
  return { limit: n, cursor: c }
}
