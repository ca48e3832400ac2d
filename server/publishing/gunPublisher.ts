/**
 * The GUN publisher, a PublisherLoop (woken when a node is queued and every
 * GUN_POLL_SECONDS). A run turns the nodes of records that are gone into tombstones, then puts
 * the due nodes and tombstones (a bounded batch, leased so that other processes take others) on
 * the relays. A node no relay gives back is failed, kept with its error, and tried again with
 * exponential backoff (capped); a restart carries on from the database.
 */
import { randomUUID } from 'node:crypto'
import { gunRecordNode } from '../../shared/gunRecord.ts'
import type { Logger } from '../logger.ts'
import type { GunPublications } from './gunPublications.ts'
import type { GunNetwork } from './gunRelays.ts'
import { PublisherLoop, retryDelay, type RetryTimings } from './publisherLoop.ts'

export interface GunTimings extends RetryTimings {
  /** How often a run starts by itself (tombstones for deleted records, nodes that became due). */
  pollMs: number
  /** How long to wait for a relay's answer (one lacking a soul answers nothing; puts are read back within twice this). */
  relayTimeoutMs: number
}

export const DEFAULT_GUN_TIMINGS: Omit<GunTimings, 'pollMs'> = { retryBaseMs: 30_000, retryMaxMs: 3_600_000, relayTimeoutMs: 10_000 }

/** Nodes per run (each at most ~200 KiB). */
const BATCH = 50
/** How long a publisher holds the nodes it is putting before another may take them. */
const LEASE_MS = 10 * 60_000

export interface GunPublisherDeps {
  publications: GunPublications
  relays: GunNetwork
  timings: GunTimings
  log: Logger
}

export class GunPublisher extends PublisherLoop {
  private readonly deps: GunPublisherDeps

  constructor (deps: GunPublisherDeps) {
    super(deps.timings.pollMs, err => deps.log.error({ err: err.message }, 'the GUN publisher failed a run; the next one tries again'))
    this.deps = deps
  }

  /** True when a full batch went: more may be due. */
  protected async run (): Promise<boolean> {
    const { publications, relays, log } = this.deps
    await publications.tombstoneGone(Date.now())
    const lease = randomUUID()
    const now = Date.now()
    const batch = await publications.claimDue(now, BATCH, lease, now + LEASE_MS)
    if (batch.length === 0) return false
    // A stored node that no longer reads as one is failed, never put as a tombstone in its place.
    const unreadable = new Map(batch.filter(row => row.node !== null && gunRecordNode(JSON.parse(row.node)) === undefined).map(row => [row.soul, 'The stored node is not a sealed node any more: send it again.']))
    const sent = batch.filter(row => !unreadable.has(row.soul))
    const failed = new Map([...unreadable, ...await relays.putAll(sent.map(row => ({ soul: row.soul, node: row.node === null ? null : gunRecordNode(JSON.parse(row.node))! })))])
    for (const row of batch) {
      const error = failed.get(row.soul)
      if (error !== undefined) await publications.markFailed(row, lease, error, Date.now(), attempts => retryDelay(this.deps.timings, attempts))
    }
    await publications.markPosted(batch.filter(row => !failed.has(row.soul)).map(row => row.soul), lease, Date.now())
    if (failed.size > 0) log.warn({ err: [...failed.values()][0], nodes: failed.size }, 'putting records on the GUN relays failed; they are tried again later')
    if (failed.size < batch.length) log.info({ nodes: batch.length - failed.size }, 'put records on the GUN relays')
    return batch.length === BATCH
  }
}
