/**
 * The Verify action's answer for a record found by search: its owner's signature checked here in
 * the browser (shared/signing.ts), not taken from the server that answered the search.
 */
import type { StoredOipRecord } from '../../shared/record.ts'
import { verifyRecord } from '../../shared/signing.ts'

export type Verdict = { ok: true, text: string } | { ok: false, text: string }

export function recordVerdict ({ record, signature, signatureFormat }: Pick<StoredOipRecord, 'record' | 'signature' | 'signatureFormat'>): Verdict {
  const owner = record.accessControl.owner_public_key
  if (signatureFormat === 'legacy-raw-sha256') return { ok: false, text: 'Signed in the old format, which this app no longer checks: ask its owner to sign it again.' }
  return verifyRecord(record, signature)
    ? { ok: true, text: `Signed by ${owner}` }
    : { ok: false, text: `The signature does not match this record: it was not signed by ${owner}, or was changed after signing. Do not trust it.` }
}
