/**
 * A list of files the server holds for the signed-in key, paged by the server's cursor: my
 * files (searchable) or the files others shared with me. Pages are appended in order; a new
 * search starts again from the first page.
 */
import { listMedia, type ServerFile } from './api.ts'
import { CursorPages, type CursorPage } from './cursorPages.svelte.ts'
import type { Session } from './session.svelte.ts'

export type ServerFilesQuery = { owner: 'me' } | { shared: 'me' }

export class ServerFiles extends CursorPages<ServerFile> {
  /** The search the items answer (my files only). */
  q = $state('')
  protected readonly failure = 'Cannot load the list'
  private readonly session: Session
  private readonly query: ServerFilesQuery

  constructor (session: Session, query: ServerFilesQuery) {
    super()
    this.session = session
    this.query = query
  }

  /** An item as the server answered it after a change. */
  replace (file: ServerFile): void {
    this.items = this.items.map(f => f.mediaId === file.mediaId ? file : f)
  }

  drop (mediaId: string): void {
    this.items = this.items.filter(f => f.mediaId !== mediaId)
  }

  protected async fetchPage (cursor: string | null): Promise<CursorPage<ServerFile>> {
    const q = this.q.trim()
    const query = 'owner' in this.query && q ? { ...this.query, q } : this.query
    return await this.session.authorized(token => listMedia(query, cursor, token))
  }

  /** A file listed already (it moved between pages after a change) is not listed twice. */
  protected override append (listed: ServerFile[], page: ServerFile[]): ServerFile[] {
    return [...listed, ...page.filter(f => !listed.some(i => i.mediaId === f.mediaId))]
  }
}
