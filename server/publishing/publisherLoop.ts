/**
 * When a publisher runs (the Arweave and the GUN one alike): one run at a time in this process,
 * woken when something is queued (kick) and every pollMs by itself; a run that finds more due,
 * or a kick during a run, starts another right after it. Work that failed waits retryDelay:
 * exponential backoff, capped, the queue itself being in the database.
 */
export interface RetryTimings {
  /** The first retry waits this long, each next one twice as long, up to retryMaxMs. */
  retryBaseMs: number
  retryMaxMs: number
}

export const retryDelay = ({ retryBaseMs, retryMaxMs }: RetryTimings, attempts: number): number =>
  Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempts - 1, 30))

/** A publisher (the Arweave or the GUN one): its `run` is called by this loop. */
export abstract class PublisherLoop {
  private readonly pollMs: number
  private readonly onError: (err: Error) => void
  private running: Promise<void> | undefined
  private again = false
  private timer: ReturnType<typeof setInterval> | undefined
  private closed = false

  /** `onError`: a run that threw (the next one tries again). */
  constructor (pollMs: number, onError: (err: Error) => void) {
    this.pollMs = pollMs
    this.onError = onError
  }

  /** One run; true when more is due at once (a full batch). */
  protected abstract run (): Promise<boolean>

  start (): void {
    this.timer = setInterval(() => this.kick(), this.pollMs)
    this.timer.unref()
    this.kick()
  }

  /** Run now, or right after the run under way. */
  kick (): void {
    if (this.closed) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.run()
      .then(more => { if (more) this.again = true })
      .catch(err => this.onError(err as Error))
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.kick()
        }
      })
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.running
  }
}
