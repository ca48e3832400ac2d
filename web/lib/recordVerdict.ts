/**
 * The Verify action's answers, checked here in the browser (shared/signing.ts), not taken from
 * the server: for a record found by search, and for my record as Arweave holds it.
 */
import { base64urlnopad } from '@scure/base'
import { itemOwnerOf } from '../../shared/oipDataItem.ts'
import { fromOipNetwork, oipNetworkText, type Tag } from '../../shared/oipNetworkRecord.ts'
import { recordId, type OipMediaRecord, type StoredOipRecord } from '../../shared/record.ts'
import { verifyRecord } from '../../shared/signing.ts'

export type Verdict = { ok: true, text: string } | { ok: false, text: string }

export function recordVerdict ({ record, signature, signatureFormat }: Pick<StoredOipRecord, 'record' | 'signature' | 'signatureFormat'>): Verdict {
  const owner = record.accessControl.owner_public_key
  if (signatureFormat === 'legacy-raw-sha256') return { ok: false, text: 'Signed in the old format, which this app no longer checks: ask its owner to sign it again.' }
  return verifyRecord(record, signature)
    ? { ok: true, text: `Signed by ${owner}` }
    : { ok: false, text: `The signature does not match this record: it was not signed by ${owner}, or was changed after signing. Do not trust it.` }
}

/** A published item as the server read it back from the Arweave gateway (GET /api/records/:id/arweave). */
export interface ArweaveItem {
  id: string
  owner: string
  tags: Tag[]
  data: string
}

/**
 * Verify of my record on Arweave: what the gateway holds must be my record (`owner`), the very
 * one the server names (`expectedRecordId`, not an older version of it), in the canonical text I
 * sign, with my owner signature in its Owner-Signature tag, listed as owned by my key. Checked
 * here: neither the gateway nor the server that relayed it is trusted for the record. (The item's
 * own ANS-104 signature is the indexer's check, not repeated here.)
 */
export function arweaveItemVerdict (item: ArweaveItem, owner: string, expectedRecordId: string): Verdict {
  const ownerSignature = item.tags.find(t => t.name === 'Owner-Signature')?.value
  let record: OipMediaRecord
  try {
    record = fromOipNetwork(JSON.parse(item.data))
  } catch (err) {
    return { ok: false, text: `Item ${item.id} on Arweave is not an OIP media record (${(err as Error).message}). Do not trust it.` }
  }
  if (record.accessControl.owner_public_key !== owner) return { ok: false, text: `Item ${item.id} on Arweave names another owner (${record.accessControl.owner_public_key}), not your key.` }
  if (ownerSignature === undefined || !verifyRecord(record, ownerSignature) || item.data !== oipNetworkText(record)) {
    return { ok: false, text: `Item ${item.id} on Arweave is not your record as you signed it (its signature does not match, or it was changed). Do not trust it.` }
  }
  if (recordId(record) !== expectedRecordId) return { ok: false, text: `Item ${item.id} on Arweave holds another of your records of this file (an older version?), not the one this server names.` }
  if (item.owner !== base64urlnopad.encode(itemOwnerOf(owner))) return { ok: false, text: `Item ${item.id} is listed under another owner key than yours.` }
  return { ok: true, text: `Verified: item ${item.id}, as this server read it from the gateway, is your record "${record.basic.name}" with your signature.` }
}
