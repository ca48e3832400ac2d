import { badRequest } from '../../shared/errors.ts'

const MAX_PAGE = 100

/** `limit` (1–100, default 50) from the query. */
export function pageLimit (limit: string | undefined): number {
  const n = limit === undefined ? 50 : Number(limit)
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw badRequest('bad_limit', `limit must be a whole number from 1 to ${MAX_PAGE}.`)
  return n
}

