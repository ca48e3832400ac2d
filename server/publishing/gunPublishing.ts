/**
 * The owner's private record to GUN: the browser sends the node it sealed (shared/gunRecord.ts)
 * and its soul, and it is queued for the publisher. The server has neither the key nor the
 * plaintext, so it checks what it can: the caller owns this private record, the soul has the
 * app's form, the node is the sealed shape and nothing else (no plaintext field can ride along),
 * and no other owner's node holds that soul here. Whether the ciphertext is this record is for
 * the owner's browsers to check (Verify): a wrong one only spoils the owner's own copy.
 */
import { AppError, badRequest, loginRequired } from '../../shared/errors.ts'
import { gunRecordNode, GUN_SOUL } from '../../shared/gunRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { OipRecordRepository, OipRecordRow } from '../records/oipRecordRepository.ts'
import { gunPublicationOf, type GunPublications } from './gunPublications.ts'
import type { GunNetwork } from './gunRelays.ts'
import { recordToPublish } from './publishedRecord.ts'

export interface GunPublishingDeps {
  publications: GunPublications
  records: Pick<OipRecordRepository, 'get'>
  /** The relays of GUN_PEERS; undefined: GUN publishing is off. */
  relays: GunNetwork | undefined
  /** Wake the publisher: something is queued. */
  kick: () => void
  now?: () => number
}

const HOW = 'Seal it with sealGunRecord (shared/gunRecord.ts) and send {"soul": …, "node": {"v": 1, "iv": …, "ct": …}}.'

export class GunPublishing {
  private readonly deps: GunPublishingDeps

  constructor (deps: GunPublishingDeps) {
    this.deps = deps
  }

  get enabled (): boolean {
    return this.deps.relays !== undefined
  }

  private now (): number {
    return this.deps.now?.() ?? Date.now()
  }

  /** 202: queued; 200: this very node is posted already. */
  async submit (caller: Caller, recordId: string, body: unknown): Promise<{ status: 200 | 202, publication: Publication }> {
    const row = await this.ownRecord(caller, recordId)
    const { soul, node } = (body ?? {}) as { soul?: unknown, node?: unknown }
    if (typeof soul !== 'string' || !GUN_SOUL.test(soul)) throw badRequest('bad_soul', `The soul must be "oip-media-seeder/" and 43 base64url characters, derived from your key and the mediaId. ${HOW}`)
    const sealed = gunRecordNode(node)
    if (!sealed || Object.keys(node as object).length !== 3) throw badRequest('bad_gun_node', `The node must be exactly {v: 1, iv, ct} in base64url (ciphertext only, no other field). ${HOW}`)
    const { publications } = this.deps
    const taken = (): AppError => new AppError(409, 'soul_taken', 'Another key\'s record holds this soul here: derive the soul from your own key and this file\'s mediaId.')
    const existing = await publications.get(soul)
    if (existing && existing.owner !== caller) throw taken()
    // The soul is derived from the owner's key and the file: one per file, kept after a delete.
    const mine = existing ?? await publications.ofOwnerFile(row.owner, row.mediaId)
    if (mine && mine.soul !== soul) throw new AppError(409, 'soul_mismatch', `Your records of this file go to the soul ${mine.soul} here: derive it from your key and this file's mediaId (gunSoul, shared/gunRecord.ts).`)
    if (existing && existing.record_id === recordId && existing.node === JSON.stringify(sealed) && existing.state === 'posted') {
      return { status: 200, publication: gunPublicationOf(existing) }
    }
    if (!await publications.put({ soul, recordId, mediaId: row.mediaId, owner: row.owner, node: sealed }, this.now())) throw taken()
    this.deps.kick()
    return { status: 202, publication: gunPublicationOf((await publications.get(soul))!) }
  }

  /** Retry: a failed (or queued) node is put next. */
  async retry (caller: Caller, recordId: string): Promise<Publication> {
    await this.ownRecord(caller, recordId)
    const { publications } = this.deps
    const existing = await publications.ofRecord(recordId)
    if (!existing) throw new AppError(404, 'not_published', `This record was not sent to GUN yet: POST its sealed node to /api/records/${recordId}/gun.`)
    if (!await publications.requeue(existing.soul, this.now())) throw new AppError(409, 'already_posted', `This record's node is ${existing.state} already: there is nothing to retry.`)
    this.deps.kick()
    return gunPublicationOf((await publications.get(existing.soul))!)
  }

  /**
   * The node the relays have at a soul, as they have it (the owner's browser opens and checks it:
   * neither this server nor a relay is trusted with that). null: none has one.
   */
  async read (caller: Caller, soul: string): Promise<{ soul: string, node: Record<string, unknown> | null }> {
    const relays = this.relays()
    if (caller === undefined) throw loginRequired()
    if (!GUN_SOUL.test(soul)) throw badRequest('bad_soul', 'The soul must be "oip-media-seeder/" and 43 base64url characters (derive it with gunSoul, shared/gunRecord.ts).')
    try {
      return { soul, node: await relays.read(soul) ?? null }
    } catch (err) {
      throw new AppError(502, 'gun_unreachable', (err as Error).message)
    }
  }

  /** The caller's GUN publications of these records (private: only their owner sees one), by record id. */
  async ofRecords (recordIds: string[], caller: Caller): Promise<Map<string, Publication>> {
    if (caller === undefined) return new Map()
    const rows = await this.deps.publications.ofRecords(recordIds, caller)
    return new Map([...rows].map(([id, row]) => [id, gunPublicationOf(row)]))
  }

  /** The publication of the owner's current record of each file, by media id (My files). */
  async ofOwnerMedia (owner: string, mediaIds: string[]): Promise<Map<string, Publication>> {
    const rows = await this.deps.publications.ofOwnerMedia(owner, mediaIds)
    return new Map([...rows].map(([id, row]) => [id, gunPublicationOf(row)]))
  }

  private relays (): GunNetwork {
    if (this.deps.relays === undefined) throw new AppError(409, 'not_publishing', 'This server does not publish to GUN (its operator has not set GUN_PEERS).')
    return this.deps.relays
  }

  /** The caller's own private record, or the error that says why not. */
  private async ownRecord (caller: Caller, recordId: string): Promise<OipRecordRow> {
    return await recordToPublish(this.deps.records, {
      name: 'GUN',
      enabled: this.enabled,
      setting: 'GUN_PEERS',
      accessLevel: 'private',
      wrongAccess: { code: 'public_record', message: 'Public records go to Arweave, not GUN: GUN carries private records only, sealed with your key. Make the file private first if you mean to.' }
    }, caller, recordId)
  }
}
