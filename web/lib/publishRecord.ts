/**
 * The owner's OIP record of a file: signed by the key in the browser and posted. Its media
 * fields are what the caller knows of the file (recordMedia); a server answer that says
 * otherwise gets no signature. The upload flow and My files (after an edit or access change,
 * which drop the old record) both publish through here. Published to the OIP network as well
 * when asked: a public record as an Arweave data item signed here from this very record, a
 * private one as a GUN node sealed here.
 */
import type { Publication } from '../../shared/publication.ts'
import type { OipMediaRecord, StoredOipRecord } from '../../shared/record.ts'
import { recordMedia, type LocalMedia, type ServerMedia } from '../../shared/recordMedia.ts'
import { signRecord } from '../../shared/signing.ts'
import { postArweaveItem, postRecord } from './api.ts'
import { signArweaveItem } from './arweaveItem.ts'
import { publishGunRecord } from './gunRecord.ts'
import type { Session } from './session.svelte.ts'

/** The words of a record: what the owner calls the file. */
export interface RecordText {
  name: string
  description: string
  tags: string[]
  /** When the owner added it (ISO). */
  addedAt: string
}

/** The stored record, and how its publication to the OIP network went when it was asked for. */
export interface PublishedRecord {
  stored: StoredOipRecord
  publication?: Publication
  /** Why it did not reach the network (the record itself is stored). */
  networkError?: string
}

/**
 * `thumbnails`: mediaIds of the file's thumbnails on the server (uploaded with its access level), or none.
 * `toNetwork`: publish it to the OIP network too (public → Arweave, private → GUN).
 */
export async function publishRecord (session: Session, local: LocalMedia, server: ServerMedia, accessLevel: 'public' | 'private', text: RecordText, thumbnails: string[] = [], toNetwork = false): Promise<PublishedRecord> {
  const record: OipMediaRecord = {
    type: 'media',
    basic: { name: text.name.slice(0, 200), description: text.description, date: Math.floor(Date.parse(text.addedAt) / 1000), language: 'en', tagItems: text.tags },
    media: { ...recordMedia(local, server), ...(thumbnails.length > 0 ? { thumbnails } : {}) },
    accessControl: { access_level: accessLevel, owner_public_key: session.key.publicKey }
  }
  const signature = signRecord(record, session.key.privateKey)
  const stored = await session.authorized(token => postRecord(record, signature, token))
  if (!toNetwork) return { stored }
  const where = accessLevel === 'public' ? 'Arweave' : 'GUN'
  try {
    if (accessLevel === 'private') return { stored, publication: await publishGunRecord(session, stored.recordId, record, signature) }
    const item = await signArweaveItem(record, signature, session.key.privateKey)
    return { stored, publication: await session.authorized(token => postArweaveItem(stored.recordId, item, token)) }
  } catch (err) {
    return { stored, networkError: `Not sent to ${where}: ${(err as Error).message}` }
  }
}
