/**
 * The Arweave publisher, a PublisherLoop (woken when an item is queued and every
 * ARWEAVE_POLL_SECONDS). A run posts the due items (a bounded batch, leased so that other
 * processes take others) as one bundle, then asks the gateway about posted bundles: confirmed
 * ones are done, ones it lost go back in the queue. A failure is kept on the items, which are
 * tried again with exponential backoff (capped), and a restart carries on from the database.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../logger.ts'
import type { BundleGateway } from './arweaveGateway.ts'
import type { ArweavePublications } from './arweavePublications.ts'
import { PublisherLoop, retryDelay, type RetryTimings } from './publisherLoop.ts'

export interface PublisherTimings extends RetryTimings {
  /** How often a run starts by itself (posting what became due, asking about posted bundles). */
  pollMs: number
  /** A bundle the gateway still does not know this long after it was posted is posted again. */
  lostAfterMs: number
}

export const DEFAULT_TIMINGS: Omit<PublisherTimings, 'pollMs'> = { retryBaseMs: 30_000, retryMaxMs: 3_600_000, lostAfterMs: 2 * 3_600_000 }

/** Items per bundle (each at most ~130 KiB) and bundles asked about per run. */
const BATCH = 50
const STATUS_CHECKS = 20
/** How long a publisher holds the items it is posting before another may take them. */
const LEASE_MS = 10 * 60_000

export interface ArweavePublisherDeps {
  publications: ArweavePublications
  gateway: BundleGateway
  timings: PublisherTimings
  log: Logger
}

export class ArweavePublisher extends PublisherLoop {
  private readonly deps: ArweavePublisherDeps

  constructor (deps: ArweavePublisherDeps) {
    super(deps.timings.pollMs, err => deps.log.error({ err: err.message }, 'the Arweave publisher failed a run; the next one tries again'))
    this.deps = deps
  }

  /** True when a full batch went: more may be due. */
  protected async run (): Promise<boolean> {
    const { publications, gateway, log } = this.deps
    await publications.removeOrphans()
    const now = Date.now()
    const batch = await publications.claimDue(now, BATCH, randomUUID(), now + LEASE_MS)
    if (batch.length > 0) {
      try {
        const txId = await gateway.postBundle(batch.map(row => row.item))
        await publications.markPosted(batch.map(row => row.record_id), txId, Date.now())
        log.info({ txId, items: batch.length }, 'posted a bundle of records to Arweave')
      } catch (err) {
        const error = (err as Error).message
        await publications.markFailed(batch, error, Date.now(), attempts => retryDelay(this.deps.timings, attempts))
        log.warn({ err: error, items: batch.length }, 'posting records to Arweave failed; they are tried again later')
      }
    }
    for (const { txId, postedAt } of await publications.postedBundles(STATUS_CHECKS)) {
      let status
      try {
        status = await gateway.status(txId)
      } catch (err) {
        log.warn({ err: (err as Error).message, txId }, 'cannot ask the Arweave gateway about a bundle')
        break
      }
      if (status === 'confirmed') await publications.markConfirmed(txId, Date.now())
      else if (status === 'missing' && Date.now() - postedAt > this.deps.timings.lostAfterMs) {
        await publications.requeueBundle(txId, `The gateway lost bundle ${txId}: its records are posted again.`, Date.now())
      }
    }
    return batch.length === BATCH
  }
}
