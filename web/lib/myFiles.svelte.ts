/**
 * My files: what the server holds for my key, from this browser or any other, and what the
 * owner does with it there. Each action says how it went in `status` (announced) or `error`.
 */
import * as api from './api.ts'
import type { Library } from './library.svelte.ts'
import { ServerFiles } from './serverFiles.svelte.ts'
import type { Session } from './session.svelte.ts'

/** The name a person knows the file by. */
export const fileTitle = (file: api.ServerFile): string => file.name ?? file.originalName

export class MyFiles {
  readonly list: ServerFiles
  status = $state('')
  error = $state<string | undefined>()
  private readonly session: Session
  private readonly library: Library

  constructor (session: Session, library: Library) {
    this.session = session
    this.library = library
    this.list = new ServerFiles(session, { owner: 'me' })
  }

  /** Is this file (uploaded, not downloaded) in this browser's library? */
  inBrowser (mediaId: string): boolean {
    return this.library.items.some(i => i.file.mediaId === mediaId && !i.file.downloaded)
  }

  /**
   * Delete my record of the file from the server. A file already gone (deleted from another
   * browser) counts as deleted. The copy in this browser stays unless `removeHere`.
   */
  async delete (file: api.ServerFile, removeHere: boolean): Promise<boolean> {
    const title = fileTitle(file)
    const here = this.inBrowser(file.mediaId)
    let gone = false
    try {
      await this.session.authorized(token => api.deleteMedia(file.mediaId, token))
    } catch (err) {
      if (!(err instanceof api.ApiError && err.status === 404)) return this.fail(`${title} was not deleted: ${(err as Error).message}`)
      gone = true
    }
    this.list.drop(file.mediaId)
    try {
      await this.library.deletedFromServer(file.mediaId, removeHere)
    } catch (err) {
      return this.fail(`${title} was deleted from the server, but this browser's copy could not be updated: ${(err as Error).message}`)
    }
    this.done(`${title} ${gone ? 'was no longer on the server' : 'was deleted from the server'}.` +
      (!here ? '' : removeHere ? ' It was removed from this browser too.' : ' The copy in this browser stays, marked "not on the server".'))
    return true
  }

  private done (message: string): void {
    this.error = undefined
    this.status = message
  }

  private fail (message: string): false {
    this.status = ''
    this.error = message
    return false
  }
}
