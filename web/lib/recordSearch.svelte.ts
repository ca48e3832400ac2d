/**
 * The search box's list: GET /api/records with the words, source and order asked, paged by the
 * server's cursor (pages appended in order; a new search starts again from the first). Public
 * records only: the search view asks without signing in.
 */
import type { StoredOipRecord } from '../../shared/record.ts'
import { getJson } from './api.ts'

export type SourceChoice = 'all' | 'local' | 'arweave' | 'gun'
export const SORTS = { 'indexedAt:desc': 'Newest found', 'date:desc': 'Newest date', 'name:asc': 'Name A–Z', 'size:desc': 'Largest' } as const
export type SortChoice = keyof typeof SORTS

export class RecordSearchList {
  words = $state('')
  source = $state<SourceChoice>('all')
  sortBy = $state<SortChoice>('indexedAt:desc')
  items = $state<StoredOipRecord[]>([])
  nextCursor = $state<string | null>(null)
  loading = $state(false)
  loaded = $state(false)
  error = $state<string | undefined>()
  /** Each search counts up, so a page that arrives after a newer search is dropped. */
  private generation = 0

  async search (): Promise<void> {
    this.generation++
    this.items = []
    this.nextCursor = null
    this.loaded = false
    await this.page(null)
  }

  async more (): Promise<void> {
    if (this.nextCursor && !this.loading) await this.page(this.nextCursor)
  }

  private query (cursor: string | null): string {
    const params = new URLSearchParams({ source: this.source, sortBy: this.sortBy, limit: '20' })
    const words = this.words.trim()
    if (words) params.set('search', words)
    if (cursor) params.set('cursor', cursor)
    return `/api/records?${params.toString()}`
  }

  private async page (cursor: string | null): Promise<void> {
    const generation = this.generation
    this.loading = true
    this.error = undefined
    try {
      const page = await getJson<{ items: StoredOipRecord[], nextCursor: string | null }>(this.query(cursor))
      if (generation !== this.generation) return
      this.items = [...this.items, ...page.items]
      this.nextCursor = page.nextCursor
      this.loaded = true
    } catch (err) {
      if (generation === this.generation) this.error = `Cannot search: ${(err as Error).message}`
    } finally {
      if (generation === this.generation) this.loading = false
    }
  }
}
