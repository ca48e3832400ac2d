/**
 * Full-text search of records (`search` of /api/records) over name, description and tags: SQLite's
 * FTS5 table oip_records_fts, PostgreSQL's tsvector column search_vector (both made by migration
 * 0011). Both see the same words: runs of letters, digits and marks, ASCII punctuation between
 * them, lower case, no stemming and no accent folding. Each word of the search matches the
 * words it begins (`sun` finds "Sunset").
 */
import { sql, type RawBuilder } from 'kysely'
import type { Dialect } from '../db/database.ts'

export type MatchMode = 'AND' | 'OR'

/** The words of a search as both databases split text, in lower case. */
export const searchWords = (text: string): string[] => [...new Set(text.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [])]

/** The row (of oip_records) holds the words: all of them (AND) or any (OR), each as a prefix. */
export function fullTextMatch (dialect: Dialect, words: string[], mode: MatchMode): RawBuilder<boolean> {
  // Words hold letters, digits and marks only, so quoting them is all either syntax needs.
  if (dialect === 'postgres') {
    const query = words.map(w => `'${w}':*`).join(mode === 'AND' ? ' & ' : ' | ')
    return sql<boolean>`search_vector @@ to_tsquery('simple', ${query})`
  }
  const query = words.map(w => `"${w}"*`).join(` ${mode} `)
  return sql<boolean>`seq IN (SELECT rowid FROM oip_records_fts WHERE oip_records_fts MATCH ${query})`
}
