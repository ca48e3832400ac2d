/**
 * OIP record items as tests post them to a gateway: an owner's proper one (signOipDataItem), and
 * whatever a forger can make (any text and tags, signed as an Ethereum item by any key), and an
 * item's bytes as a gateway's GraphQL and data route describe it.
 */
import { createHash } from 'node:crypto'
import { createData, DataItem, EthereumSigner } from '@dha-team/arbundles'
import { bytesToHex } from '@noble/hashes/utils.js'
import { signOipDataItem } from '../../shared/oipDataItem.ts'
import type { Tag } from '../../shared/oipNetworkRecord.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { signRecord } from '../../shared/signing.ts'
import type { Identity } from '../../shared/wallet.ts'
import type { GatewayItem } from '../../server/records/oipItemCheck.ts'

/** A public video record of `owner`'s; `media` names the file (its mediaId is the text's SHA-256). */
export function oipRecordOf (owner: Identity, media: string, more: { name?: string, description?: string, tags?: string[], date?: number } = {}): OipMediaRecord {
  const mediaId = createHash('sha256').update(media).digest('hex')
  return {
    type: 'media',
    basic: { name: more.name ?? `${media}.mp4`, description: more.description ?? 'Filmed at the harbour', date: more.date ?? 1764072000, language: 'en', tagItems: more.tags ?? ['harbour'] },
    media: { mediaId, bittorrentAddress: `magnet:?xt=urn:btih:${mediaId.slice(0, 40)}`, httpUrl: `https://elsewhere.example.org/api/media/${mediaId}`, contentType: 'video/mp4', size: 4096 },
    accessControl: { access_level: 'public', owner_public_key: owner.publicKey }
  }
}

/** The record signed by its owner, and its item as the owner's browser makes it. */
export async function ownerItem (record: OipMediaRecord, owner: Identity): Promise<{ signature: string, item: Uint8Array }> {
  const signature = signRecord(record, owner.privateKey)
  return { signature, item: await signOipDataItem(createData, record, signature, owner.privateKey) }
}

/** Any text and tags, signed as an Ethereum (type 3) item by `signer`: what anyone can post in a bundle. */
export async function anyItem (text: string, tags: Tag[], signer: Identity): Promise<Uint8Array> {
  const ethereum = new EthereumSigner(bytesToHex(signer.privateKey))
  const item = createData(text, ethereum, { tags })
  await item.sign(ethereum)
  return new Uint8Array(item.getRaw())
}

/** The item as a gateway lists it (base64url id, owner and signature, decoded tags) with its data. */
export function listed (raw: Uint8Array): GatewayItem {
  const item = new DataItem(Buffer.from(raw))
  return { id: item.id, owner: item.owner, signature: item.signature, tags: item.tags, data: new Uint8Array(item.rawData) }
}
