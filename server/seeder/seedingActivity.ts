/**
 * When each torrent was last wanted and what it sent, noted in memory and written behind to its
 * seeding row in batches: wanting a file costs no database write. Notes of a failed write are
 * kept for the next try.
 */
import type { SeedActivity, SeedRepository } from '../catalog/seedRepository.ts'
import type { Logger } from '../logger.ts'

/** Noted activity is written at once past this many torrents, whatever the interval. */
const MAX_PENDING_ACTIVITY = 10_000

type Noted = Omit<SeedActivity, 'infoHash'>

export interface SeedingActivityOptions {
  seeds: SeedRepository
  /** Bytes each active torrent sent since it came up (its torrent's count), by infoHash. */
  sentByActive: () => Iterable<[infoHash: string, uploaded: number]>
  log: Logger
}

export class SeedingActivity {
  private readonly opts: SeedingActivityOptions
  /** Wanted times and bytes sent not yet written to the database. */
  private readonly pending = new Map<string, Noted>()
  /** Per active torrent: how much of its count went into the row already. */
  private readonly writtenUploads = new Map<string, number>()
  private writing: Promise<void> = Promise.resolve()
  private writer: NodeJS.Timeout | undefined

  constructor (opts: SeedingActivityOptions) {
    this.opts = opts
  }

  /** Write behind every `intervalMs`. */
  start (intervalMs: number): void {
    this.writer = setInterval(() => { void this.write() }, intervalMs)
    this.writer.unref()
  }

  stop (): void {
    clearInterval(this.writer)
  }

  /** What is noted and not written yet about this torrent. */
  unwritten (infoHash: string): Noted | undefined {
    return this.pending.get(infoHash)
  }

  /** Bytes of an active torrent already written to its row (its torrent's count includes them). */
  written (infoHash: string): number {
    return this.writtenUploads.get(infoHash) ?? 0
  }

  /** Note activity to write behind; written at once when too much is waiting. */
  note (infoHash: string, what: Noted): void {
    const had = this.pending.get(infoHash) ?? {}
    this.pending.set(infoHash, {
      ...(what.wantedAt !== undefined || had.wantedAt !== undefined ? { wantedAt: Math.max(what.wantedAt ?? 0, had.wantedAt ?? 0) } : {}),
      ...(what.uploaded || had.uploaded ? { uploaded: (had.uploaded ?? 0) + (what.uploaded ?? 0) } : {})
    })
    if (this.pending.size >= MAX_PENDING_ACTIVITY) void this.write()
  }

  /**
   * A torrent leaves the client with `uploaded` on its count: what it sent since the last write
   * is noted (when `noteSent`), and the count it brings next time starts from nothing.
   */
  retire (infoHash: string, uploaded: number, noteSent: boolean): void {
    const sent = uploaded - this.written(infoHash)
    if (sent > 0 && noteSent) this.note(infoHash, { uploaded: sent })
    this.writtenUploads.delete(infoHash)
  }

  /** The torrent is no longer seeded: what was noted about it goes unwritten. */
  forget (infoHash: string): void {
    this.pending.delete(infoHash)
  }

  /** Resolves once the write under way, if any, has ended. */
  async settled (): Promise<void> {
    await this.writing.catch(() => {})
  }

  /** Write the noted wanted times and bytes sent (one at a time; errors are logged, the notes kept for the next try). */
  async write (): Promise<void> {
    const run = async (): Promise<void> => {
      for (const [infoHash, uploaded] of this.opts.sentByActive()) {
        const sent = uploaded - this.written(infoHash)
        if (sent > 0) {
          this.writtenUploads.set(infoHash, uploaded)
          this.note(infoHash, { uploaded: sent })
        }
      }
      if (this.pending.size === 0) return
      const batch = [...this.pending].map(([infoHash, a]) => ({ infoHash, ...a }))
      this.pending.clear()
      try {
        await this.opts.seeds.record(batch)
      } catch (err) {
        for (const a of batch) this.note(a.infoHash, a)
        this.opts.log.warn({ err: (err as Error).message }, 'could not write the seeding activity; trying again')
      }
    }
    this.writing = this.writing.then(run, run)
    await this.writing
  }
}
