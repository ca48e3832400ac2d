/**
 * Whether an OIP data item a gateway reports is a record this server may index: the gateway is
 * not trusted for anything. Its data must read back as our record (fromOipNetwork), the record's
 * owner signature (Owner-Signature tag, signing.ts's format) must verify under the key the record
 * names, the item's owner must be that same key, and the item's own ANS-104 signature must verify
 * over the item as signOipDataItem builds it from that record: so neither the gateway nor anyone
 * posting a bundle can put words, tags or an owner in a record that the owner did not sign.
 * Gateways rarely serve an item's raw bytes (arlocal never does), so the item is rebuilt from the
 * record and the gateway's owner and signature, and that is verified.
 */
import { ITEM_LAYOUT, itemOwnerOf, unsignedOipDataItem } from '../../shared/oipDataItem.ts'
import { fromOipNetwork, oipNetworkText, type Tag } from '../../shared/oipNetworkRecord.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signatureFormatOf, verifyRecord } from '../../shared/signing.ts'
import { arbundles } from '../publishing/arweavePublishing.ts'

/** A record's data is at most ~100 KiB (routes/records.ts): anything larger is not one of ours. */
export const INDEXED_ITEM_MAX_BYTES = 128 * 1024

/** A data item as the gateway's GraphQL and data route describe it. */
export interface GatewayItem {
  /** base64url, as the gateway names it. */
  id: string
  /** The item's owner key, base64url. */
  owner: string
  /** The item's ANS-104 signature, base64url. */
  signature: string
  tags: Tag[]
  data: Uint8Array
}

export type RefusalReason =
  | 'too_large' | 'missing_tags' | 'not_a_record' | 'private_record' | 'legacy_signature'
  | 'bad_owner_signature' | 'owner_mismatch' | 'bad_item_signature' | 'item_mismatch'

export type ItemVerdict =
  | { accepted: true, record: OipMediaRecord, ownerSignature: string }
  | { accepted: false, reason: RefusalReason, detail: string }

const refuse = (reason: RefusalReason, detail: string): ItemVerdict => ({ accepted: false, reason, detail })

const BASE64URL = /^[A-Za-z0-9_-]+$/

const tagValue = (tags: Tag[], name: string): string | undefined => tags.find(t => t.name === name)?.value

export async function checkOipItem (item: GatewayItem): Promise<ItemVerdict> {
  if (item.data.length > INDEXED_ITEM_MAX_BYTES) return refuse('too_large', `its data is ${item.data.length} bytes, more than a record's ${INDEXED_ITEM_MAX_BYTES}`)
  const ownerSignature = tagValue(item.tags, 'Owner-Signature')
  if (tagValue(item.tags, 'Index-Method') !== 'OIP' || tagValue(item.tags, 'Type') !== 'Record' || ownerSignature === undefined) {
    return refuse('missing_tags', 'it lacks the Index-Method: OIP, Type: Record or Owner-Signature tag')
  }
  let record: OipMediaRecord
  const text = new TextDecoder().decode(item.data)
  try {
    record = fromOipNetwork(JSON.parse(text))
  } catch (err) {
    return refuse('not_a_record', `its data is not an OIP media record: ${(err as Error).message}`)
  }
  if (record.accessControl.access_level !== 'public') return refuse('private_record', 'it names itself private: a private record is never indexed from a public network')
  if (signatureFormatOf(ownerSignature) !== 'bitcoin-message-v1') return refuse('legacy_signature', 'its owner signature is in the old raw format, never accepted anew')
  if (!verifyRecord(record, ownerSignature)) return refuse('bad_owner_signature', 'its Owner-Signature does not verify under the record\'s owner key (signed by another key, or the record was altered after signing)')
  const owner = record.accessControl.owner_public_key
  if (item.owner !== Buffer.from(itemOwnerOf(owner)).toString('base64url')) return refuse('owner_mismatch', `the item is owned by another key than the record's owner ${owner}`)
  if (text !== oipNetworkText(record)) return refuse('item_mismatch', 'its data is not the record\'s canonical text, as its owner signs it')

  const signature = BASE64URL.test(item.signature) ? Buffer.from(item.signature, 'base64url') : undefined
  if (signature?.length !== ITEM_LAYOUT.owner - ITEM_LAYOUT.signature) return refuse('bad_item_signature', 'its signature is not a 65-byte Ethereum (type 3) signature')
  const { createData, DataItem } = await arbundles()
  const bytes = Buffer.from(unsignedOipDataItem(createData, record, ownerSignature))
  bytes.set(signature, ITEM_LAYOUT.signature)
  if (!await DataItem.verify(bytes).catch(() => false)) return refuse('bad_item_signature', 'its ANS-104 signature does not verify over the record\'s item under the owner\'s key')
  // The id is the hash of the signature: a gateway naming another id answers for another item.
  const id = new DataItem(bytes).id
  if (id !== item.id) return refuse('item_mismatch', `the gateway names it ${item.id}, but its signature makes it ${id}`)
  return { accepted: true, record, ownerSignature }
}
