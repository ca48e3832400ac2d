/**
 * A public record's Arweave data item (ANS-104): data = oipNetworkText(record), tags =
 * oipTags(record, signature), signed by the owner's identity key as arbundles' Ethereum
 * signature type (3: owner = the uncompressed secp256k1 key, signature = EIP-191 personal
 * message over the item's deep hash, r ‖ s ‖ v). Besides signing.ts, the only code that signs
 * with the identity key, and it signs only an item it built itself from a record that key
 * signed: never bytes handed to it. The server builds the same unsigned item to check one it
 * is sent. arbundles' createData is passed in: Node uses the package, the browser its prebuilt
 * bundle (in web/workers/arweaveItem.worker.ts, off the main thread).
 */
import type { Signer } from '@dha-team/arbundles'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { oipNetworkText, oipTags, type Tag } from './oipNetworkRecord.ts'
import { validateRecord, type OipMediaRecord } from './record.ts'
import { verifyRecord } from './signing.ts'

/** arbundles' createData, as either of its builds (Node's, the browser bundle's) has it. */
export type CreateDataItem = (data: string, signer: Signer, opts: { tags: Tag[] }) => { getRaw (): Uint8Array, sign (signer: Signer): Promise<unknown> }

/** arbundles' SignatureConfig.ETHEREUM: 65-byte signature, 65-byte owner. */
export const ETHEREUM_SIGNATURE_TYPE = 3
const SIGNATURE_LENGTH = 65

/** The data item's owner for a compressed identity key (hex): the same key, uncompressed. */
export const itemOwnerOf = (publicKey: string): Uint8Array => secp256k1.Point.fromHex(publicKey).toBytes(false)

/** EIP-191: what an Ethereum wallet's personal_sign (and arbundles' EthereumSigner) signs. */
const personalMessageHash = (message: Uint8Array): Uint8Array =>
  keccak_256(concatBytes(utf8ToBytes(`\x19Ethereum Signed Message:\n${message.length}`), message))

/** What createData reads of a signer; `sign` only when a key is given (the server only builds). */
function itemSigner (owner: Uint8Array, privateKey?: Uint8Array): Signer {
  return {
    publicKey: owner as Signer['publicKey'],
    signatureType: ETHEREUM_SIGNATURE_TYPE,
    signatureLength: SIGNATURE_LENGTH,
    ownerLength: owner.length,
    sign (deepHash: Uint8Array): Uint8Array {
      if (!privateKey) throw new Error('This item builder has no key to sign with.')
      const recovered = secp256k1.sign(personalMessageHash(deepHash), privateKey, { prehash: false, lowS: true, format: 'recovered' })
      // noble puts the recovery id first; Ethereum puts v = 27 + it last.
      return concatBytes(recovered.subarray(1), Uint8Array.of(27 + recovered[0]!))
    }
  }
}

/** The public record's item as createData lays it out, signature bytes still zero. */
export function unsignedOipDataItem (createData: CreateDataItem, record: OipMediaRecord, signature: string): Uint8Array {
  const owner = itemOwnerOf(record.accessControl.owner_public_key)
  return new Uint8Array(createData(oipNetworkText(record), itemSigner(owner), { tags: oipTags(record, signature) }).getRaw())
}

/** Where an item of this type has its signature (after the two-byte type) and then its owner key. */
export const ITEM_LAYOUT = { signature: 2, owner: 2 + SIGNATURE_LENGTH, rest: 2 + SIGNATURE_LENGTH + 65 } as const

/**
 * The signed item's bytes for a public record this key owns and signed (`signature`, checked
 * here); an Error saying why otherwise, and nothing is signed.
 */
export async function signOipDataItem (createData: CreateDataItem, record: OipMediaRecord, signature: string, privateKey: Uint8Array): Promise<Uint8Array> {
  const checked = validateRecord(record)
  if (checked.accessControl.access_level !== 'public') throw new Error('Only public records go to Arweave: a private record stays off public networks.')
  if (bytesToHex(secp256k1.getPublicKey(privateKey, true)) !== checked.accessControl.owner_public_key) throw new Error('This record names another key as its owner: only its owner signs its Arweave item.')
  if (!verifyRecord(checked, signature)) throw new Error('The record\'s signature does not verify: sign the record first.')
  const owner = itemOwnerOf(checked.accessControl.owner_public_key)
  const signer = itemSigner(owner, privateKey)
  const item = createData(oipNetworkText(checked), signer, { tags: oipTags(checked, signature) })
  await item.sign(signer)
  return new Uint8Array(item.getRaw())
}
