/**
 * A private record on GUN, from this browser: sealed here with a key derived from the identity
 * (shared/gunRecord.ts) and sent to the server, which puts it on its relays; and read back (any
 * browser of the same phrase) through the server, opened and checked here. The server and the
 * relays only ever see ciphertext, and neither is trusted with what comes back.
 */
import { gunRecordKeys, gunSoul, openGunRecord, sealGunRecord } from '../../shared/gunRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import { gunNode, postGunNode } from './api.ts'
import type { Session } from './session.svelte.ts'

export async function publishGunRecord (session: Session, recordId: string, record: OipMediaRecord, signature: string): Promise<Publication> {
  const sealed = await sealGunRecord(record, signature, session.key.privateKey)
  return await session.authorized(token => postGunNode(recordId, sealed, token))
}

/**
 * Verify: the owner's record of `mediaId` as the relays hold it, at the soul this key derives
 * (`did` must name it), decrypted and signed by this key. An Error that says what is wrong otherwise.
 */
export async function readBackGunRecord (session: Session, mediaId: string, did: string | undefined): Promise<OipMediaRecord> {
  const soul = gunSoul(gunRecordKeys(session.key.privateKey), mediaId)
  if (did !== undefined && did !== `did:gun:${soul}`) throw new Error(`The server names ${did} for this record, not the soul your key derives (${soul}).`)
  const node = await session.authorized(token => gunNode(soul, token))
  return (await openGunRecord(node ?? undefined, mediaId, session.key.privateKey)).record
}
