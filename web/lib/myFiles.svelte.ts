/**
 * My files: what the server holds for my key, from this browser or any other, and what the
 * owner does with it there. Each action says how it went in a toast; a change the server
 * refuses shows in `error` instead, in the dialog that asked for it (the dialog stays open).
 */
import type { KeyUsage, MediaEdit } from '../../shared/media.ts'
import { recordId as recordIdOf } from '../../shared/record.ts'
import type { Publication } from '../../shared/publication.ts'
import * as api from './api.ts'
import { readBackGunRecord } from './gunRecord.ts'
import { infoHashOfTorrent } from './hashing.ts'
import type { Library } from './library.svelte.ts'
import { publishRecord } from './publishRecord.ts'
import { arweaveItemVerdict } from './recordVerdict.ts'
import { ServerFiles } from './serverFiles.svelte.ts'
import type { Session } from './session.svelte.ts'
import { toasts } from './toasts.svelte.ts'

/** What an owner does to one of their files in My files. */
export type FileAction = 'edit' | 'access' | 'share' | 'delete' | 'sign'

/** The name a person knows the file by. */
export const fileTitle = (file: api.ServerFile): string => file.name ?? file.originalName

/** My record of it is on Arweave (posted or confirmed): it stays there whatever I do here. */
export const onArweave = (file: api.ServerFile): boolean =>
  file.publication?.network === 'arweave' && (file.publication.state === 'posted' || file.publication.state === 'confirmed')

export class MyFiles {
  readonly list: ServerFiles
  /** Why the open dialog's change was refused. */
  error = $state<string | undefined>()
  usage = $state<KeyUsage | undefined>()
  /** Files changed on the server whose record is not signed again yet (the signing failed). */
  unsigned = $state<string[]>([])
  /** Files whose record was on the OIP network before an edit dropped it: the new one goes there too. */
  private readonly toNetwork = new Set<string>()
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
      if (!(err instanceof api.ApiError && err.status === 404)) return failed(`${title} was not deleted: ${(err as Error).message}`)
      gone = true
    }
    this.list.drop(file.mediaId)
    try {
      await this.library.deletedFromServer(file.mediaId, removeHere)
    } catch (err) {
      return failed(`${title} was deleted from the server, but this browser's copy could not be updated: ${(err as Error).message}`)
    }
    toasts.success(`${title} ${gone ? 'was no longer on the server' : 'was deleted from the server'}.` +
      (!here ? '' : removeHere ? ' It was removed from this browser too.' : ' The copy in this browser stays, marked "not on the server".'))
    return true
  }

  /** My usage against the per-key limits; a server without them shows none. */
  async loadUsage (): Promise<void> {
    try {
      this.usage = await this.session.authorized(token => api.usage(token))
    } catch {
      this.usage = undefined
    }
  }

  /**
   * Change the file on the server (one PATCH: name, description, tags, access). That drops my
   * signed record of it, so the record is signed again here at once. True once the server took
   * the change, even when the signing failed (shown, with "Sign record" to try again).
   */
  async edit (file: api.ServerFile, changes: MediaEdit): Promise<boolean> {
    const title = fileTitle(file)
    let changed: api.ServerFile
    try {
      const answer = await this.session.authorized(token => api.editMedia(file.mediaId, changes, token))
      // The edit dropped the record that named the thumbnail; the server kept the thumbnail (with the file's access), so the new record names it again.
      changed = { ...answer, thumbnail: answer.thumbnail ?? file.thumbnail }
    } catch (err) {
      this.error = `${title} was not changed: ${(err as Error).message}`
      return false
    }
    this.error = undefined
    if (file.publication) this.toNetwork.add(file.mediaId)
    this.list.replace(changed)
    const what = changes.accessLevel && changes.accessLevel !== file.accessLevel ? `is ${changes.accessLevel} now` : 'was saved'
    if (await this.resign(changed, false)) toasts.success(`${fileTitle(changed)} ${what}. Your record of it is signed again.`)
    return true
  }

  /** Retry a record's publication to the OIP network that failed: the server sends its copy again. */
  async retryPublication (file: api.ServerFile): Promise<void> {
    const { network, recordId } = file.publication ?? {}
    if (!network || !recordId) return
    try {
      const publication = await this.session.authorized(token => api.retryPublication(network, recordId, token))
      this.list.replace({ ...file, publication })
      toasts.success(`${fileTitle(file)} goes to ${network === 'gun' ? 'the GUN relays' : 'Arweave in the next bundle'} again.`)
    } catch (err) {
      failed(`${fileTitle(file)} was not sent again: ${(err as Error).message}`)
    }
  }

  /**
   * Verify a file's record where it was published, checked here: on GUN read back from the
   * relays and decrypted; on Arweave read back from the gateway. What it says, or an Error that
   * says what is wrong.
   */
  async verify (file: api.ServerFile): Promise<string> {
    const { network, recordId, did } = file.publication ?? {}
    if (network === 'gun') {
      const record = await readBackGunRecord(this.session, file.mediaId, did)
      if (recordId && recordIdOf(record) !== recordId) throw new Error('The relays hold another of your records of this file (an older version?), not the one this server names.')
      return `Verified: the node this server read from the relays is your record "${record.basic.name}", signed by your key, readable only with it.`
    }
    if (network !== 'arweave' || !recordId) throw new Error('This record was not published to the OIP network.')
    const item = await this.session.authorized(token => api.arweaveItem(recordId, token))
    if (did !== undefined && did !== `did:arweave:${item.id}`) throw new Error(`The server read back item ${item.id}, not the one it names for this record (${did}).`)
    const verdict = arweaveItemVerdict(item, this.session.key.publicKey, recordId)
    if (!verdict.ok) throw new Error(verdict.text)
    return verdict.text
  }

  /** Sign my record of a changed file again (`say`: and say so); a failure is shown, with a way to retry. */
  async resign (changed: api.ServerFile, say = true): Promise<boolean> {
    try {
      await this.publishChanged(changed)
      this.unsigned = this.unsigned.filter(id => id !== changed.mediaId)
      if (say) toasts.success(`Your record of ${fileTitle(changed)} is signed again.`)
      return true
    } catch (err) {
      if (!this.unsigned.includes(changed.mediaId)) this.unsigned = [...this.unsigned, changed.mediaId]
      return failed(`${fileTitle(changed)} was changed on the server, but your record of it was not signed again: ${(err as Error).message} Use "Sign record" to try again.`)
    }
  }

  /**
   * The record of a file in this browser is signed from what the browser hashed (Library). A
   * file uploaded elsewhere is described from the server's answers: this browser holds no
   * bytes to check them against, only that the magnet names the .torrent it is handed.
   */
  private async publishChanged (changed: api.ServerFile): Promise<void> {
    const { mediaId } = changed
    const info = await this.session.authorized(token => api.mediaInfo(mediaId, token))
    const item = await this.library.changedOnServer(changed, info.magnetURI)
    if (item) {
      this.published(changed, item)
      return
    }
    const torrentFile = await this.session.authorized(token => api.torrentFor(mediaId, token))
    const infoHash = await infoHashOfTorrent(torrentFile)
    const httpUrl = `${location.origin}/api/media/${mediaId}`
    this.published(changed, await publishRecord(this.session,
      { mediaId, size: changed.fileSize, infoHash, contentType: changed.mimeType, origin: location.origin },
      { mediaId, magnetURI: info.magnetURI, httpUrl, mimeType: changed.mimeType, fileSize: info.fileSize },
      changed.accessLevel,
      { name: fileTitle(changed), description: changed.description ?? '', tags: changed.tags ?? [], addedAt: changed.createdAt },
      changed.thumbnail ? [changed.thumbnail] : [],
      this.toNetwork.has(mediaId)))
  }

  /** The row shows where the new record went on the OIP network; a failure to send it is said. */
  private published (changed: api.ServerFile, { publication, networkError }: { publication?: Publication, networkError?: string }): void {
    if (publication) this.list.replace({ ...changed, publication })
    if (networkError) toasts.error(`${fileTitle(changed)}: ${networkError}`)
  }
}

/** An action that failed outside a dialog's form: said in a toast. */
function failed (message: string): false {
  toasts.error(message)
  return false
}
