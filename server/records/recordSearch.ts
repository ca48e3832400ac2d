/**
 * What a search of /api/records asks for: its query parameters, named as the OIP origin
 * indexer names them (search, searchMatchMode, tags, tagsMatchMode, recordType, creator,
 * dateStart, dateEnd, source, sortBy, limit, page), checked and turned into a RecordSearch,
 * and the paging cursor of each order. Every wrong parameter is a 400 that says what to send.
 */
import { badRequest } from '../../shared/errors.ts'
import { RECORD_LIMITS } from '../../shared/record.ts'
import { isAddress, isPublicKey } from '../../shared/wallet.ts'
import { MAX_QUERY, queryText } from '../catalog/textQuery.ts'
import { searchWords, type MatchMode } from './recordFullText.ts'

/** The query parameters as they came (each absent or a string); `owner`, `type`, `tag` are the older names. */
export interface RecordSearchParams {
  search?: string
  searchMatchMode?: string
  q?: string
  tags?: string
  tag?: string
  tagsMatchMode?: string
  recordType?: string
  type?: string
  creator?: string
  owner?: string
  dateStart?: string
  dateEnd?: string
  source?: string
  sortBy?: string
  page?: string
  cursor?: string
}

export const RECORD_SOURCES = ['local', 'arweave', 'gun'] as const
export type RecordSource = typeof RECORD_SOURCES[number]

/** sortBy's fields and the column each orders by; every order ends with seq (insertion order) to break ties. */
export const SORT_COLUMNS = { indexedAt: 'seq', date: 'date', name: 'name_key', size: 'size' } as const
export type SortField = keyof typeof SORT_COLUMNS
export interface RecordSort { field: SortField, direction: 'asc' | 'desc' }
/** Newest stored first, as the origin's default (inArweaveBlock:desc) lists the newest on chain first. */
const DEFAULT_SORT: RecordSort = { field: 'indexedAt', direction: 'desc' }

/** Where the previous page ended: its last row's sort key and seq. */
export interface RecordPosition { key: number | string, seq: number }

/** `page` reads the rows of the pages before it: it stops here, the cursor does not. */
export const LAST_PAGE = 20

export interface RecordSearch {
  /** Full text (recordFullText.ts): the words, all or any. */
  words?: string[]
  searchMode: MatchMode
  /** The older text filter: a literal, case-insensitive (A–Z) substring of name or description. */
  q?: string
  tags?: string[]
  tagsMode: MatchMode
  recordType?: string
  creator?: { publicKey: string } | { address: string }
  /** Unix seconds, both inclusive, on record.basic.date. */
  dateStart?: number
  dateEnd?: number
  source?: RecordSource
  sort: RecordSort
  /** Rows to skip (page); or where to go on from (cursor). */
  offset: number
  after?: RecordPosition
}

const bad = (message: string): Error => badRequest('bad_query', message)

function matchMode (value: string | undefined, name: string, fallback: MatchMode): MatchMode {
  if (value === undefined) return fallback
  const mode = value.toUpperCase()
  if (mode !== 'AND' && mode !== 'OR') throw bad(`${name} must be AND or OR.`)
  return mode
}

/** One of two names for the same parameter (the origin's, and the one this API had first). */
function either (params: RecordSearchParams, name: keyof RecordSearchParams, older: keyof RecordSearchParams): string | undefined {
  if (params[name] !== undefined && params[older] !== undefined) throw bad(`Send ${name} or ${older}, not both.`)
  return params[name] ?? params[older]
}

function tagList (params: RecordSearchParams): string[] | undefined {
  if (params.tags !== undefined && params.tag !== undefined) throw bad('Send tags or tag, not both.')
  // `tag` is one exact tag, commas included; `tags` a comma-separated list.
  const tags = params.tag !== undefined ? [params.tag] : params.tags?.split(',').map(t => t.trim())
  if (tags === undefined) return undefined
  if (tags.length > RECORD_LIMITS.tags) throw bad(`tags takes at most ${RECORD_LIMITS.tags} tags, separated by commas.`)
  const name = params.tag !== undefined ? 'tag' : 'tags'
  for (const tag of tags) queryText(tag, name === 'tag' ? 'tag' : 'each of tags', RECORD_LIMITS.tag)
  return [...new Set(tags)]
}

function creatorOf (params: RecordSearchParams): RecordSearch['creator'] {
  if (params.owner !== undefined) {
    if (params.creator !== undefined) throw bad('Send creator or owner, not both.')
    if (!isPublicKey(params.owner)) throw bad('owner must be a public key: 66 lowercase hex characters starting with 02 or 03.')
    return { publicKey: params.owner }
  }
  const { creator } = params
  if (creator === undefined) return undefined
  if (isPublicKey(creator)) return { publicKey: creator }
  if (isAddress(creator)) return { address: creator }
  throw bad('creator must be a public key (66 lowercase hex characters starting with 02 or 03) or its address (Base58, starting with 1).')
}

const DAY = 86_400
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

/** Unix seconds, or an ISO date (a whole day, UTC: dateEnd takes it to its last second) or date and time with its zone. */
function dateOf (value: string | undefined, name: 'dateStart' | 'dateEnd'): number | undefined {
  if (value === undefined) return undefined
  if (/^\d{1,12}$/.test(value)) return Number(value)
  const ms = ISO_DATE.test(value) || ISO_TIME.test(value) ? Date.parse(value) : NaN
  // Date.parse rolls 2024-02-30 over to March: a day that is not in the calendar is refused.
  if (Number.isNaN(ms) || (ISO_DATE.test(value) && new Date(ms).toISOString().slice(0, 10) !== value) || ms < 0) {
    throw bad(`${name} must be Unix seconds (e.g. 1735689600) or an ISO date such as 2025-01-01 or 2025-01-01T12:00:00Z.`)
  }
  const seconds = Math.floor(ms / 1000)
  return name === 'dateEnd' && ISO_DATE.test(value) ? seconds + DAY - 1 : seconds
}

function sortOf (value: string | undefined): RecordSort {
  if (value === undefined) return DEFAULT_SORT
  const [field, direction = 'desc', ...rest] = value.split(':')
  if (!Object.hasOwn(SORT_COLUMNS, field!) || (direction !== 'asc' && direction !== 'desc') || rest.length > 0) {
    throw bad(`sortBy must be one of ${Object.keys(SORT_COLUMNS).join(', ')}, optionally followed by :asc or :desc (e.g. date:desc).`)
  }
  return { field: field as SortField, direction }
}

/** The cursor of a page that ended at this row: the seq alone for the default order (as before sortBy), else the order, key and seq. */
export function encodeCursor (sort: RecordSort, row: { seq: number, date: number, size: number, nameKey: string }): string {
  if (sort.field === DEFAULT_SORT.field && sort.direction === DEFAULT_SORT.direction) return String(row.seq)
  const key = sort.field === 'indexedAt' ? row.seq : sort.field === 'name' ? row.nameKey : row[sort.field]
  return Buffer.from(JSON.stringify([sort.field, sort.direction, key, row.seq])).toString('base64url')
}

function decodeCursor (cursor: string, sort: RecordSort): RecordPosition {
  const refused = (): Error => badRequest('bad_cursor', 'cursor must be the nextCursor of a previous page, asked with the same sortBy.')
  if (/^\d{1,16}$/.test(cursor)) {
    const seq = Number(cursor)
    // Safe integers only: past 2^53 a cursor is not exact, and PostgreSQL's bigint refuses 1e+30.
    if (!Number.isSafeInteger(seq) || seq < 1 || sort.field !== DEFAULT_SORT.field || sort.direction !== DEFAULT_SORT.direction) throw refused()
    return { key: seq, seq }
  }
  let parts: unknown
  try { parts = JSON.parse(Buffer.from(cursor, 'base64url').toString()) } catch { throw refused() }
  if (!Array.isArray(parts) || parts.length !== 4) throw refused()
  const [field, direction, key, seq] = parts as unknown[]
  const keyFits = sort.field === 'name' ? typeof key === 'string' && key.length <= RECORD_LIMITS.name : Number.isSafeInteger(key)
  if (field !== sort.field || direction !== sort.direction || !keyFits || !Number.isSafeInteger(seq) || (seq as number) < 1) throw refused()
  return { key: key as number | string, seq: seq as number }
}

function pageOf (value: string | undefined, limit: number): number {
  if (value === undefined) return 0
  const page = Number(value)
  if (!/^\d+$/.test(value) || page < 1 || page > LAST_PAGE) {
    throw badRequest('bad_page', `page must be a whole number from 1 to ${LAST_PAGE}; to go further, send the previous page's nextCursor as cursor.`)
  }
  return (page - 1) * limit
}

/** The search these parameters ask for, or a 400 naming the first wrong one. */
export function parseRecordSearch (params: RecordSearchParams, limit: number): RecordSearch {
  const search = queryText(params.search, 'search', MAX_QUERY)
  const words = search === undefined ? undefined : searchWords(search)
  if (words?.length === 0) throw bad('search must hold at least one word (letters or digits).')
  const sourceParam = queryText(params.source, 'source', 16)
  if (sourceParam !== undefined && sourceParam !== 'all' && !RECORD_SOURCES.includes(sourceParam as RecordSource)) {
    throw bad(`source must be all, ${RECORD_SOURCES.join(', ')}.`)
  }
  const dateStart = dateOf(params.dateStart, 'dateStart')
  const dateEnd = dateOf(params.dateEnd, 'dateEnd')
  if (dateStart !== undefined && dateEnd !== undefined && dateStart > dateEnd) throw bad('dateStart must not be after dateEnd.')
  const sort = sortOf(params.sortBy)
  if (params.page !== undefined && params.cursor !== undefined) throw bad('Send page or cursor, not both.')
  return {
    words,
    searchMode: matchMode(params.searchMatchMode, 'searchMatchMode', 'AND'),
    q: queryText(params.q, 'q', MAX_QUERY),
    tags: tagList(params),
    tagsMode: matchMode(params.tagsMatchMode, 'tagsMatchMode', 'OR'),
    recordType: queryText(either(params, 'recordType', 'type'), params.type !== undefined ? 'type' : 'recordType', 32),
    creator: creatorOf(params),
    dateStart,
    dateEnd,
    source: sourceParam === 'all' ? undefined : sourceParam as RecordSource | undefined,
    sort,
    offset: pageOf(params.page, limit),
    after: params.cursor === undefined ? undefined : decodeCursor(params.cursor, sort)
  }
}
