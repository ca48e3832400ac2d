/**
 * A list the server pages by cursor: pages are appended in order, `reload` starts again from the
 * first, and a page that arrives after a newer reload is dropped. Subclasses say how a page is
 * fetched (and may drop items already listed).
 */
export interface CursorPage<T> {
  items: T[]
  nextCursor: string | null
}

export abstract class CursorPages<T> {
  items = $state<T[]>([])
  nextCursor = $state<string | null>(null)
  loading = $state(false)
  /** Loaded at least one page. */
  loaded = $state(false)
  error = $state<string | undefined>()
  /** Each reload counts up, so a page that arrives after a newer one is dropped. */
  private generation = 0

  /** The page after `cursor` (null: the first). */
  protected abstract fetchPage (cursor: string | null): Promise<CursorPage<T>>
  /** What an error is said after, e.g. "Cannot search". */
  protected abstract readonly failure: string

  /** The items a new page adds after those listed. */
  protected append (listed: T[], page: T[]): T[] {
    return [...listed, ...page]
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

  private async page (cursor: string | null): Promise<void> {
    const generation = this.generation
    this.loading = true
    this.error = undefined
    try {
      const page = await this.fetchPage(cursor)
      if (generation !== this.generation) return
      this.items = this.append(this.items, page.items)
      this.nextCursor = page.nextCursor
      this.loaded = true
    } catch (err) {
      if (generation === this.generation) this.error = `${this.failure}: ${(err as Error).message}`
    } finally {
      if (generation === this.generation) this.loading = false
    }
  }
}
