/**
 * The Arweave indexer: every ARWEAVE_POLL_SECONDS, on the node that leads, it reads the OIP
 * record items the gateway lists after its stored cursor, checks each (oipItemCheck.ts) and
 * stores the accepted ones as records with source `arweave`, searchable like local ones. A record
 * already stored (made here, or read before) stays as it is. A refused item is logged with its
 * reason and counted, never stored; either way the cursor moves past it, so one bad item never
 * stops the loop. An item whose data cannot be fetched holds the cursor for a few runs (the
 * gateway may be busy), then is refused as unavailable.
 */
import { recordId } from '../../shared/record.ts'
import type { Logger } from '../logger.ts'
import { checkOipItem, type RefusalReason } from './oipItemCheck.ts'
import type { OipIndexCursor } from './oipIndexCursor.ts'
import { OversizedAnswer, type IndexGateway, type ListedItem } from './oipIndexGateway.ts'
import { newRecordRow, type OipRecordRepository } from './oipRecordRepository.ts'

/** What became of an item: stored, stored already, or why it was refused. */
export type IndexOutcome = 'indexed' | 'known' | RefusalReason | 'malformed' | 'data_unavailable'

export interface OipIndexerDeps {
  gateway: IndexGateway
  cursor: Pick<OipIndexCursor, 'get' | 'set'>
  records: Pick<OipRecordRepository, 'save'>
  pollMs: number
  /** Whether this node indexes now: the cluster's leader does, so items are read once. */
  leads: () => boolean
  onItem?: (outcome: IndexOutcome) => void
  log: Logger
}

/** Pages read per run at most: a gateway listing without end cannot keep a run going. */
const PAGES_PER_RUN = 20
/** Runs in a row an item's data may fail to come before the item is refused. */
const DATA_TRIES = 3

export class OipIndexer {
  private readonly deps: OipIndexerDeps
  private running: Promise<void> | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private closed = false
  /** The item whose data last failed to come, and how many runs in a row it did. */
  private stalled: { id: string, tries: number } | undefined

  constructor (deps: OipIndexerDeps) {
    this.deps = deps
  }

  start (): void {
    this.timer = setInterval(() => { void this.run() }, this.deps.pollMs)
    this.timer.unref()
    void this.run()
  }

  /** After the item being read (one request's time at most): a run may have many left. */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.running
  }

  /** One run (or the one under way): reads what the gateway has after the cursor. */
  async run (): Promise<void> {
    this.running ??= this.readNew()
      .catch(err => this.deps.log.warn({ err: (err as Error).message }, 'the Arweave indexer stopped a run; the next one goes on from where it got to'))
      .finally(() => { this.running = undefined })
    await this.running
  }

  private async readNew (): Promise<void> {
    const { gateway, cursor } = this.deps
    if (this.closed || !this.deps.leads()) return
    let after = await cursor.get()
    for (let pages = 0; pages < PAGES_PER_RUN; pages++) {
      const page = await gateway.page(after)
      for (const item of page.items) {
        // A node that stopped leading stops at once: the new leader writes the cursor now.
        if (this.closed || !this.deps.leads() || !await this.index(item)) return
        after = item.cursor
        await cursor.set(after, Date.now())
      }
      if (!page.hasNextPage || page.items.length === 0) return
    }
  }

  /** false: its data did not come this time; the run ends before it. */
  private async index (item: ListedItem): Promise<boolean> {
    let outcome: IndexOutcome
    if (item.problem !== undefined) {
      outcome = this.refused(item, 'malformed', item.problem)
    } else {
      const data = await this.data(item)
      if (data === 'later') return false
      outcome = data instanceof Error
        ? this.refused(item, data instanceof OversizedAnswer ? 'too_large' : 'data_unavailable', data.message)
        : await this.store(item, data)
    }
    this.deps.onItem?.(outcome)
    return true
  }

  /** The item's data; 'later' when it failed to come and may yet; an Error when it will not. */
  private async data (item: ListedItem): Promise<Uint8Array | Error | 'later'> {
    try {
      const data = await this.deps.gateway.data(item.id)
      this.stalled = undefined
      return data
    } catch (err) {
      if (err instanceof OversizedAnswer) return err
      const tries = this.stalled?.id === item.id ? this.stalled.tries + 1 : 1
      this.stalled = { id: item.id, tries }
      this.deps.log.warn({ id: item.id, tries, err: (err as Error).message }, 'the Arweave gateway did not give an OIP item\'s data')
      return tries < DATA_TRIES ? 'later' : err as Error
    }
  }

  private async store (item: ListedItem, data: Uint8Array): Promise<IndexOutcome> {
    const verdict = await checkOipItem({ ...item, data })
    if (!verdict.accepted) return this.refused(item, verdict.reason, verdict.detail)
    const { record, ownerSignature } = verdict
    // No thumbnails: they name files of this server's catalogue, which only local records may.
    const { created } = await this.deps.records.save(newRecordRow(record, ownerSignature, new Date(), { source: 'arweave' }))
    if (created) this.deps.log.info({ id: item.id, recordId: recordId(record) }, 'indexed an OIP record from Arweave')
    return created ? 'indexed' : 'known'
  }

  private refused (item: ListedItem, reason: IndexOutcome, detail: string): IndexOutcome {
    this.deps.log.warn({ id: item.id, reason, detail }, 'refused an OIP item from the Arweave gateway; it is not indexed')
    return reason
  }
}
