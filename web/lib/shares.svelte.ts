/**
 * Who a private file of mine is shared with: keys added with an optional expiry, and revoked.
 * The key and the expiry are checked here first, so a typo is caught before the server is asked.
 * What went wrong with the form (adding) shows in `error`, beside it; done work is a toast.
 */
import type { ShareView } from '../../shared/media.ts'
import * as api from './api.ts'
import { dateTime, shortKey } from './format.ts'
import { expiryOf, recipientKeyProblem } from './shareInput.ts'
import type { Session } from './session.svelte.ts'
import { toasts } from './toasts.svelte.ts'

export class FileShares {
  shares = $state<ShareView[]>([])
  loaded = $state(false)
  busy = $state(false)
  error = $state<string | undefined>()
  private readonly session: Session
  private readonly mediaId: string
  private readonly onchange: (shares: ShareView[]) => void

  constructor (session: Session, mediaId: string, onchange: (shares: ShareView[]) => void) {
    this.session = session
    this.mediaId = mediaId
    this.onchange = onchange
  }

  async load (): Promise<void> {
    await this.run(async () => {
      this.shares = await this.session.authorized(token => api.listShares(this.mediaId, token))
      this.loaded = true
    })
  }

  /** Share with the key in `keyText` until `expiry` (a datetime-local value; empty: until revoked). */
  async add (keyText: string, expiry: string): Promise<boolean> {
    const problem = recipientKeyProblem(keyText, this.session.publicKey)
    const when = expiryOf(expiry)
    if (problem || 'problem' in when) {
      this.error = problem ?? (when as { problem: string }).problem
      return false
    }
    const key = keyText.trim().toLowerCase()
    return await this.run(async () => {
      const share = await this.session.authorized(token => api.putShare(this.mediaId, key, when.expiresAt, token))
      this.set([...this.shares.filter(s => s.publicKey !== key), share])
      return `Shared with ${shortKey(key)} ${share.expiresAt ? `until ${dateTime(share.expiresAt)}` : 'until you revoke it'}.`
    })
  }

  async revoke (publicKey: string): Promise<boolean> {
    return await this.run(async () => {
      await this.session.authorized(token => api.deleteShare(this.mediaId, publicKey, token))
      this.set(this.shares.filter(s => s.publicKey !== publicKey))
      return `Revoked: ${shortKey(publicKey)} can no longer read this file.`
    }, message => toasts.error(`${shortKey(publicKey)} was not revoked and can still read this file: ${message}`))
  }

  private set (shares: ShareView[]): void {
    this.shares = shares
    this.onchange(shares)
  }

  /** `work` says what it did (a toast); a failure shows in `error` unless `failed` says it elsewhere. */
  private async run (work: () => Promise<string | void>, failed = (message: string) => { this.error = message }): Promise<boolean> {
    this.busy = true
    this.error = undefined
    try {
      const did = await work()
      if (did) toasts.success(did)
      return true
    } catch (err) {
      failed((err as Error).message)
      return false
    } finally {
      this.busy = false
    }
  }
}
