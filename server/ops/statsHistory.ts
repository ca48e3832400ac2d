/**
 * The dashboard's recent past: every `intervalMs` a sample of the seeding (bytes sent and received
 * per second, peers, active torrents; for every torrent and for public ones, as the stats count
 * them) and of the media disk's free space, kept in a SampleRing of fixed size. One timer,
 * unref'd and stopped at close; nothing is kept per file.
 */
import type { HistorySample, SeederHistory } from '../../shared/media.ts'
import type { Logger } from '../logger.ts'
import type { LiveTotals } from '../seeder/mediaSeeder.ts'
import type { StatsScope } from '../seeder/statsScope.ts'
import { SampleRing } from './sampleRing.ts'

export interface DiskSpace {
  free: number
  size: number
}

export interface StatsHistoryOptions {
  intervalMs: number
  /** Samples kept: an hour at the default interval. */
  capacity?: number
  totals: (scope: StatsScope) => LiveTotals
  disk: () => Promise<DiskSpace>
  /** Uploads are refused under this much free space (DISK_LOW_WATER_BYTES); undefined: uploads do not go to this disk (BLOB_STORE=s3). */
  lowWaterBytes: number | undefined
  log: Logger
}

const SCOPES = ['all', 'public'] as const satisfies readonly StatsScope[]
const SCOPED = ['upload', 'download', 'peers', 'activeTorrents'] as const
type Scoped = typeof SCOPED[number]
type Field = 'at' | 'diskFree' | `${StatsScope}.${Scoped}`
const FIELDS: Field[] = ['at', 'diskFree', ...SCOPES.flatMap(scope => SCOPED.map(f => `${scope}.${f}` as const))]

export const HISTORY_SAMPLES = 360

export class StatsHistory {
  private readonly opts: StatsHistoryOptions
  private readonly ring: SampleRing<Field>
  /** Each scope's totals at the last sample, for the rates. */
  private readonly last: Partial<Record<StatsScope, LiveTotals & { at: number }>> = {}
  private disk: DiskSpace | undefined
  private timer: NodeJS.Timeout | undefined
  private sampling = false

  constructor (opts: StatsHistoryOptions) {
    this.opts = opts
    this.ring = new SampleRing(FIELDS, opts.capacity ?? HISTORY_SAMPLES)
  }

  /** A first sample now, then one every interval. */
  async start (): Promise<void> {
    await this.sample()
    this.timer = setInterval(() => { void this.sample() }, this.opts.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** The history a caller of this scope may see, oldest sample first. */
  view (scope: StatsScope): SeederHistory {
    const { intervalMs, lowWaterBytes } = this.opts
    const samples: HistorySample[] = this.ring.samples().map(s => ({
      at: s.at,
      upload: s[`${scope}.upload`],
      download: s[`${scope}.download`],
      peers: s[`${scope}.peers`],
      activeTorrents: s[`${scope}.activeTorrents`],
      diskFree: Number.isNaN(s.diskFree) ? null : s.diskFree
    }))
    return { intervalMs, windowMs: intervalMs * this.ring.capacity, samples, disk: this.disk ? { ...this.disk, lowWater: lowWaterBytes ?? null } : null }
  }

  private async sample (): Promise<void> {
    // A slow disk must not pile samples up.
    if (this.sampling) return
    this.sampling = true
    try {
      this.disk = await this.opts.disk().catch(err => {
        this.opts.log.warn({ err: (err as Error).message }, 'could not read the free space of MEDIA_DIR for the dashboard')
        return undefined
      })
      const at = Date.now()
      const sample = { at, diskFree: this.disk?.free ?? NaN } as Record<Field, number>
      for (const scope of SCOPES) {
        const now = { ...this.opts.totals(scope), at }
        const before = this.last[scope]
        const seconds = before ? (at - before.at) / 1000 : 0
        sample[`${scope}.upload`] = before && seconds > 0 ? (now.sent - before.sent) / seconds : 0
        sample[`${scope}.download`] = before && seconds > 0 ? (now.received - before.received) / seconds : 0
        sample[`${scope}.peers`] = now.peers
        sample[`${scope}.activeTorrents`] = now.activeTorrents
        this.last[scope] = now
      }
      this.ring.push(sample)
    } finally {
      this.sampling = false
    }
  }
}
