/** What a person types to share a file: the recipient's public key and an optional expiry. */
import { isValidPublicKey } from '../../shared/wallet.ts'

/** What is wrong with `text` as the key to share with, or undefined when it is a key. */
export function recipientKeyProblem (text: string, mine: string | undefined): string | undefined {
  const key = text.trim().toLowerCase()
  if (key === '') return 'Paste the public key of the person to share with: they find it under "Shared with me" in their app.'
  if (!isValidPublicKey(key)) {
    return 'This is not a public key (66 hexadecimal characters starting with 02 or 03). Ask them to copy it again from "Shared with me".'
  }
  if (key === mine) return 'This is your own key: you can read your files already. Paste the key of the person to share with.'
  return undefined
}

/** A datetime-local value (local time) as an ISO time in the future, or the reason it is not one. */
export function expiryOf (value: string, now = Date.now()): { expiresAt: string | null } | { problem: string } {
  if (value === '') return { expiresAt: null }
  const at = new Date(value).getTime()
  if (!Number.isFinite(at)) return { problem: 'The expiry is not a date and time. Pick one, or leave it empty to share until you revoke.' }
  if (at <= now) return { problem: 'The expiry is in the past. Pick a later time, or leave it empty to share until you revoke.' }
  return { expiresAt: new Date(at).toISOString() }
}
