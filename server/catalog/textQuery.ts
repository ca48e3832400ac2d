/**
 * Text search in the catalogue (`q` of /api/records and of the owner's /api/media): what a query
 * may be, and one way of matching it on both databases, a case-insensitive (ASCII) substring.
 */
import { sql, type RawBuilder } from 'kysely'
import { badRequest } from '../../shared/errors.ts'
import type { Dialect } from '../db/database.ts'

/** The longest `q` taken. */
export const MAX_QUERY = 200

/** A query parameter that is absent, or a short string. */
export function queryText (value: string | undefined, name: string, max: number): string | undefined {
  if (value !== undefined && (value.length === 0 || value.length > max)) throw badRequest('bad_query', `${name} must be 1 to ${max} characters.`)
  // No record holds it, and PostgreSQL refuses to compare text with it.
  if (value?.includes('\u0000')) throw badRequest('bad_query', `${name} must not contain NUL (\\u0000).`)
  return value
}

/** A–Z in lower case and nothing else, as SQLite's lower() folds. */
export const foldAscii = (text: string): string => text.replace(/[A-Z]/g, ch => ch.toLowerCase())

/** `q` is matched literally (LIKE's wildcards in it are escaped), its ASCII letters in lower case. */
const likePattern = (q: string): string => `%${foldAscii(q).replace(/[\\%_]/g, ch => `\\${ch}`)}%`

/**
 * The column with its ASCII letters in lower case and nothing else folded, as SQLite's lower()
 * does; PostgreSQL's folds by the database's locale (É to é under a UTF-8 one) unless told C.
 */
const asciiLower = (dialect: Dialect, column: string): RawBuilder<string> =>
  dialect === 'postgres' ? sql<string>`lower(${sql.ref(column)} COLLATE "C")` : sql<string>`lower(${sql.ref(column)})`

/** Some of `columns` holds `q` (a NULL column holds nothing). */
export function containsText (dialect: Dialect, columns: string[], q: string): RawBuilder<boolean> {
  const pattern = likePattern(q)
  return sql<boolean>`(${sql.join(columns.map(column => sql`${asciiLower(dialect, column)} LIKE ${pattern} ESCAPE '\\'`), sql` OR `)})`
}
