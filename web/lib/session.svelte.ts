/**
 * The wallet and the session, as the UI sees them. The recovery phrase is shown once, kept only
 * sealed under a passphrase in IndexedDB, and the key lives in memory while unlocked.
 */
import { RefusedSignIn } from '../../shared/signInMessage.ts'
import { createMnemonic, identityFromMnemonic, isValidMnemonic, type Identity } from '../../shared/wallet.ts'
import { ApiError, signIn } from './api.ts'
import { openLibraryDb, withQuota } from './db.ts'
import { shortKey } from './format.ts'
import { seal, unseal } from './keystore.ts'

export type Step = 'loading' | 'unavailable' | 'welcome' | 'backup' | 'locked' | 'ready'

const WALLET_KEY = 'identity'
const MIN_PASSPHRASE = 8

export class Session {
  step = $state<Step>('loading')
  error = $state<string | undefined>()
  busy = $state(false)
  /** The words of a wallet being created, shown once until they are confirmed. */
  newWords = $state<string[]>([])
  publicKey = $state<string | undefined>()
  private identity: Identity | undefined
  private token: string | undefined

  get shortKey (): string {
    return this.publicKey ? shortKey(this.publicKey) : ''
  }

  async start (): Promise<void> {
    try {
      const sealed = await (await openLibraryDb()).get('wallet', WALLET_KEY)
      this.publicKey = sealed?.publicKey
      this.step = sealed ? 'locked' : 'welcome'
    } catch (err) {
      this.error = (err as Error).message
      this.step = 'unavailable'
    }
  }

  beginCreate (): void {
    this.newWords = createMnemonic().split(' ')
    this.error = undefined
    this.step = 'backup'
  }

  /** Positions (0-based) the user must type back to show they wrote the words down. */
  checkPositions (): number[] {
    return [1, 6, 10]
  }

  async finishCreate (typed: Record<number, string>, passphrase: string, repeat: string): Promise<void> {
    const wrong = this.checkPositions().filter(i => (typed[i] ?? '').trim().toLowerCase() !== this.newWords[i])
    if (wrong.length > 0) {
      this.error = `Word ${wrong.map(i => i + 1).join(', ')} does not match. Check what you wrote down.`
      return
    }
    await this.store(this.newWords.join(' '), passphrase, repeat)
    if (this.step === 'ready') this.newWords = []
  }

  async importWords (words: string, passphrase: string, repeat: string): Promise<void> {
    if (!isValidMnemonic(words)) {
      this.error = 'These words are not a valid recovery phrase: check each word and their order (12 or 24 words).'
      return
    }
    await this.store(words, passphrase, repeat)
  }

  async unlock (passphrase: string): Promise<void> {
    await this.run(async () => {
      const sealed = await (await openLibraryDb()).get('wallet', WALLET_KEY)
      if (!sealed) throw new Error('No wallet is stored in this browser. Create or import one.')
      await this.enter(await unseal(sealed, passphrase))
    })
  }

  /** Forget the key in memory; the sealed wallet stays. */
  lock (): void {
    this.identity = undefined
    this.token = undefined
    this.step = 'locked'
  }

  /** Remove the wallet from this browser (files stay). Coming back needs the recovery phrase. */
  async signOut (): Promise<void> {
    await (await openLibraryDb()).delete('wallet', WALLET_KEY)
    this.lock()
    this.publicKey = undefined
    this.step = 'welcome'
  }

  get key (): Identity {
    if (!this.identity) throw new Error('The wallet is locked. Unlock it first.')
    return this.identity
  }

  /** Call the API with the session token; sign in again once if it expired. */
  async authorized<T> (call: (token: string) => Promise<T>): Promise<T> {
    this.token ??= await this.signIn()
    try {
      return await call(this.token)
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err
      this.token = await this.signIn()
      return await call(this.token)
    }
  }

  /** A challenge the wallet refused stays on screen (`error`) until a sign-in succeeds. */
  private async signIn (): Promise<string> {
    try {
      const token = await signIn(this.key)
      this.error = undefined
      return token
    } catch (err) {
      if (err instanceof RefusedSignIn) this.error = err.message
      throw err
    }
  }

  private async store (words: string, passphrase: string, repeat: string): Promise<void> {
    if (passphrase.length < MIN_PASSPHRASE) {
      this.error = `Choose a passphrase of at least ${MIN_PASSPHRASE} characters: it protects your key in this browser.`
      return
    }
    if (passphrase !== repeat) {
      this.error = 'The two passphrases differ. Type the same one twice.'
      return
    }
    await this.run(async () => {
      const identity = await identityFromMnemonic(words)
      const sealed = await seal(words, identity.publicKey, passphrase)
      await withQuota(async () => { await (await openLibraryDb()).put('wallet', sealed, WALLET_KEY) })
      await this.enter(words)
    })
  }

  private async enter (words: string): Promise<void> {
    this.identity = await identityFromMnemonic(words)
    this.publicKey = this.identity.publicKey
    // Offline, the library still opens; the first call that needs the server signs in.
    this.token = await this.signIn().catch(() => undefined)
    this.step = 'ready'
  }

  private async run (work: () => Promise<void>): Promise<void> {
    this.busy = true
    this.error = undefined
    try {
      await work()
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.busy = false
    }
  }
}
