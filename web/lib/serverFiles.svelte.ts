/**
 * A list of files the server holds for the signed-in key, paged by the server's cursor: my
 * files (searchable) or the files others shared with me. Pages are appended in order; a new
 * search starts again from the first page.
 */
import { listMedia, type ServerFile } from './api.ts'
import type { Session } from './session.svelte.ts'

export type ServerFilesQuery = { owner: 'me' } | { shared: 'me' }

export class ServerFiles {
  items = $state<ServerFile[]>([])
  nextCursor = $state<string | null>(null)
  loading = $state(false)
  /** Loaded at least one page. */
  loaded = $state(false)
  error = $state<string | undefined>()
  /** The search the items answer (my files only). */
  q = $state('')
  private readonly session: Session
  private readonly query: ServerFilesQuery
  /** Each reload counts up, so a page that arrives after a newer search is dropped. */
  private generation = 0

  constructor (session: Session, query: ServerFilesQuery) {
    this.session = session
    this.query = query
  }

  /** The first page again (after a new search, or to see what changed). */
  async reload (): Promise<void> {
    this.generation++
    this.items = []
    this.nextCursor = null
    this.loaded = false
    await this.page(null)
  }

  async more (): Promise<void> {
    if (this.nextCursor && !this.loading) await this.page(this.nextCursor)
  }

  /** An item as the server answered it after a change. */
  replace (file: ServerFile): void {
    this.items = this.items.map(f => f.mediaId === file.mediaId ? file : f)
  }

  drop (mediaId: string): void {
    this.items = this.items.filter(f => f.mediaId !== mediaId)
  }

  private async page (cursor: string | null): Promise<void> {
    const generation = this.generation
    const q = this.q.trim()
    const query = 'owner' in this.query && q ? { ...this.query, q } : this.query
    this.loading = true
    this.error = undefined
    try {
      const page = await this.session.authorized(token => listMedia(query, cursor, token))
      if (generation !== this.generation) return
      this.items = [...this.items, ...page.items.filter(f => !this.items.some(i => i.mediaId === f.mediaId))]
      this.nextCursor = page.nextCursor
      this.loaded = true
    } catch (err) {
      if (generation === this.generation) this.error = `Cannot load the list: ${(err as Error).message}`
    } finally {
      if (generation === this.generation) this.loading = false
    }
  }
}
