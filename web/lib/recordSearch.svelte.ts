/**
 * The search box's list: GET /api/records with the words, source and order asked, paged by the
 * server's cursor (pages appended in order; a new search starts again from the first). Signed
 * in while the wallet is unlocked, so the owner's private records (those on GUN among them) are
 * found too; public records only otherwise.
 */
import type { StoredOipRecord } from '../../shared/record.ts'
import { getJson } from './api.ts'
import { CursorPages, type CursorPage } from './cursorPages.svelte.ts'
import type { Session } from './session.svelte.ts'

export type SourceChoice = 'all' | 'local' | 'arweave' | 'gun'
/** recordType: every record, or one OIP section (by content type). */
export const KINDS = { '': 'Any kind', video: 'Video', audio: 'Audio', image: 'Image', text: 'Text and other' } as const
export type KindChoice = keyof typeof KINDS
export const SORTS = { 'indexedAt:desc': 'Newest found', 'date:desc': 'Newest date', 'name:asc': 'Name A–Z', 'size:desc': 'Largest' } as const
export type SortChoice = keyof typeof SORTS

export class RecordSearchList extends CursorPages<StoredOipRecord> {
  words = $state('')
  source = $state<SourceChoice>('all')
  kind = $state<KindChoice>('')
  sortBy = $state<SortChoice>('indexedAt:desc')
  protected readonly failure = 'Cannot search'
  private readonly session: Session

  constructor (session: Session) {
    super()
    this.session = session
  }

  protected async fetchPage (cursor: string | null): Promise<CursorPage<StoredOipRecord>> {
    const params = new URLSearchParams({ source: this.source, sortBy: this.sortBy, limit: '20' })
    const words = this.words.trim()
    if (words) params.set('search', words)
    if (this.kind) params.set('recordType', this.kind)
    if (cursor) params.set('cursor', cursor)
    const path = `/api/records?${params.toString()}`
    const anonymous = async (): Promise<CursorPage<StoredOipRecord>> => await getJson<CursorPage<StoredOipRecord>>(path)
    if (this.session.step !== 'ready') return await anonymous()
    try {
      // Signs in unless it is already.
      await this.session.authorized(async () => {})
    } catch {
      // Cannot sign in now (offline, refused): the public records still.
      return await anonymous()
    }
    return await this.session.authorized(async token => await getJson<CursorPage<StoredOipRecord>>(path, token))
  }
}
