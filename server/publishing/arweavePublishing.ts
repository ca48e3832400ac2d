/**
 * The owner's public record to Arweave: the browser sends the data item it signed
 * (shared/oipDataItem.ts) and it is queued for the publisher only when it is exactly that
 * record's item (the stored record's oipNetworkText as data, oipTags with the stored signature,
 * the owner's key as its owner, nothing else) and its signature verifies. So nobody, this
 * server included, can publish another text under a record.
 */
import { AppError } from '../../shared/errors.ts'
import { ITEM_LAYOUT, unsignedOipDataItem } from '../../shared/oipDataItem.ts'
import type { Tag } from '../../shared/oipNetworkRecord.ts'
import type { OipMediaRecord } from '../../shared/record.ts'
import type { Publication } from '../../shared/publication.ts'
import { signatureFormatOf } from '../../shared/signing.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { Logger } from '../logger.ts'
import type { OipIndexGateway } from '../records/oipIndexGateway.ts'
import type { OipRecordRepository, OipRecordRow } from '../records/oipRecordRepository.ts'
import { publicationOf, type ArweavePublications } from './arweavePublications.ts'
import { recordToPublish } from './publishedRecord.ts'

export interface ArweavePublishingDeps {
  publications: ArweavePublications
  records: Pick<OipRecordRepository, 'get'>
  /** ARWEAVE_URL is set. */
  enabled: boolean
  /** Wake the publisher: something is queued. */
  kick: () => void
  /** ARWEAVE_URL, read back for Verify. */
  gateway?: Pick<OipIndexGateway, 'item'>
  log?: Logger
  now?: () => number
}

/** Loaded on first use: servers that never publish do not load arbundles (and ethers). */
export const arbundles = async (): Promise<typeof import('@dha-team/arbundles')> => await import('@dha-team/arbundles')

/** A published item as the gateway gives it back (GET /api/records/:id/arweave): the data as text. */
export interface ArweaveReadBack {
  id: string
  owner: string
  signature: string
  tags: Tag[]
  data: string
}

const sameBytes = (a: Uint8Array, b: Uint8Array, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) if (a[i] !== b[i]) return false
  return true
}

export class ArweavePublishing {
  private readonly deps: ArweavePublishingDeps

  constructor (deps: ArweavePublishingDeps) {
    this.deps = deps
  }

  get enabled (): boolean {
    return this.deps.enabled
  }

  private now (): number {
    return this.deps.now?.() ?? Date.now()
  }

  /** 202: queued (or queued again); 200: this item is already posted. */
  async submit (caller: Caller, recordId: string, item: Uint8Array): Promise<{ status: 200 | 202, publication: Publication }> {
    const row = await this.ownRecord(caller, recordId)
    if (signatureFormatOf(row.signature) !== 'bitcoin-message-v1') {
      throw new AppError(409, 'legacy_signature', 'This record is signed in the old format: sign it again (the app does when you unlock), then publish the new record.')
    }
    const itemId = await this.checkItem(item, JSON.parse(row.recordJson) as OipMediaRecord, row.signature)
    const { publications } = this.deps
    const now = this.now()
    const existing = await publications.get(recordId)
    if (existing && existing.item_id !== itemId) {
      throw new AppError(409, 'already_published', `This record already went to Arweave as item ${existing.item_id} (${existing.state}). Retry that one (POST /api/records/${recordId}/arweave/retry) instead of sending another.`)
    }
    const queued = existing ? await publications.requeue(recordId, now) : await publications.add({ recordId, mediaId: row.mediaId, owner: row.owner, itemId, item }, now)
    if (queued) this.deps.kick()
    return { status: queued ? 202 : 200, publication: publicationOf((await publications.get(recordId))!) }
  }

  /** Retry: a failed (or queued) item goes in the next bundle. */
  async retry (caller: Caller, recordId: string): Promise<Publication> {
    await this.ownRecord(caller, recordId)
    const { publications } = this.deps
    const existing = await publications.get(recordId)
    if (!existing) throw new AppError(404, 'not_published', `This record was not sent to Arweave yet: POST its signed data item to /api/records/${recordId}/arweave.`)
    if (!await publications.requeue(recordId, this.now())) throw new AppError(409, 'already_posted', `This record's item is ${existing.state} already: there is nothing to retry.`)
    this.deps.kick()
    return publicationOf((await publications.get(recordId))!)
  }

  /**
   * Verify: the owner's published item as the gateway lists it (owner, signature, tags) and its
   * data, to be checked in the browser, which trusts neither the gateway nor this server.
   */
  async readBack (caller: Caller, recordId: string): Promise<ArweaveReadBack> {
    await this.ownRecord(caller, recordId)
    const row = await this.deps.publications.get(recordId)
    if (!row || row.state === 'queued' || row.state === 'failed') {
      throw new AppError(409, 'not_posted', 'This record is not on Arweave yet: it is read back once its bundle is posted.')
    }
    const gateway = this.deps.gateway
    if (!gateway) throw new AppError(409, 'not_publishing', 'This server has no Arweave gateway (ARWEAVE_URL) to read records back from.')
    let item: Awaited<ReturnType<typeof gateway.item>>
    try {
      item = await gateway.item(row.item_id)
    } catch (err) {
      // The gateway's address (ARWEAVE_URL, which may carry a key) is for the log, not the owner.
      this.deps.log?.warn({ recordId, err: (err as Error).message }, 'could not read a published item back from the Arweave gateway')
      throw new AppError(502, 'arweave_unreachable', 'The Arweave gateway could not be read. Try again later.')
    }
    if (!item) throw new AppError(404, 'not_on_gateway', `The gateway does not list item ${row.item_id} (yet): a bundle can take minutes to be indexed. Try again later.`)
    return { id: item.id, owner: item.owner, signature: item.signature, tags: item.tags, data: new TextDecoder().decode(item.data) }
  }

  /** The records' publications (only public records have one, which anyone may see), by record id. */
  async ofRecords (recordIds: string[]): Promise<Map<string, Publication>> {
    const rows = await this.deps.publications.ofRecords(recordIds)
    return new Map([...rows].map(([id, row]) => [id, publicationOf(row)]))
  }

  /** The publication of the owner's current record of each file, by media id (My files). */
  async ofOwnerMedia (owner: string, mediaIds: string[]): Promise<Map<string, Publication>> {
    const rows = await this.deps.publications.ofOwnerMedia(owner, mediaIds)
    return new Map([...rows].map(([id, row]) => [id, publicationOf(row)]))
  }

  /** The caller's own public record, or the error that says why not. */
  private async ownRecord (caller: Caller, recordId: string): Promise<OipRecordRow> {
    return await recordToPublish(this.deps.records, {
      name: 'Arweave',
      enabled: this.deps.enabled,
      setting: 'ARWEAVE_URL',
      accessLevel: 'public',
      wrongAccess: { code: 'private_record', message: 'Private records never go to Arweave, where anyone could read them. Make the file public first if you mean to publish it.' }
    }, caller, recordId)
  }

  /** The item's id, when it is exactly this record's item with a valid signature; else a 400/403 saying what differs. */
  private async checkItem (item: Uint8Array, record: OipMediaRecord, signature: string): Promise<string> {
    const { createData, DataItem } = await arbundles()
    const expected = unsignedOipDataItem(createData, record, signature)
    const { signature: sigStart, owner: ownerStart, rest } = ITEM_LAYOUT
    const refuse = (status: 400 | 403, code: string, what: string): never => {
      throw new AppError(status, code, `${what} Build it from this record with signOipDataItem (shared/oipDataItem.ts): data = oipNetworkText(record), tags = oipTags(record, signature), signed by the record's owner key as signature type 3 (Ethereum), no target or anchor.`)
    }
    // Everything but the signature is known beforehand: the server can add nothing to the item.
    if (item.length < rest || !sameBytes(item, expected, 0, sigStart)) refuse(400, 'bad_data_item', 'This is not an ANS-104 data item signed as type 3 (Ethereum).')
    if (!sameBytes(item, expected, ownerStart, rest)) refuse(403, 'wrong_signer', 'The data item is not owned by the record\'s owner key.')
    if (item.length !== expected.length || !sameBytes(item, expected, rest, expected.length)) refuse(400, 'item_mismatch', 'The data item does not carry exactly this record (its data, tags, target or anchor differ).')
    const bytes = Buffer.from(item)
    const valid = await DataItem.verify(bytes).catch(() => false)
    if (!valid) refuse(400, 'bad_item_signature', 'The data item\'s signature does not verify.')
    return new DataItem(bytes).id
  }
}
