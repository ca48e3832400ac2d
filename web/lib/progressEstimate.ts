/**
 * Time left for long work (hashing, upload, download) from its progress over time. The rate is
 * smoothed (an exponential moving average that forgets by elapsed time, not by sample count), so
 * bursty progress events do not make the estimate jump, and a stall makes it grow by itself.
 * The caller passes the clock: no timers here.
 */

/** How fast the average forgets: after this long, an old rate weighs half. */
const HALF_LIFE_MS = 3000
/** Watch this long before saying anything: the first moments' rate (start-up, a cache) misleads. */
const MIN_WATCHED_MS = 1000
/** Beyond a day the figure means nothing: "—". */
const MAX_LEFT_MS = 24 * 3600_000

export class RateEstimator {
  private first: { at: number } | undefined
  private last: { done: number, at: number } | undefined
  /** Smoothed progress per millisecond. */
  private rate: number | undefined

  /** Progress `done` (of the same total every time) at time `at` (ms). Going back starts over. */
  update (done: number, at: number): void {
    if (!this.last || done < this.last.done) {
      this.first = { at }
      this.last = { done, at }
      this.rate = undefined
      return
    }
    const elapsed = at - this.last.at
    if (elapsed <= 0) return
    const now = (done - this.last.done) / elapsed
    const weight = 1 - 2 ** (-elapsed / HALF_LIFE_MS)
    this.rate = this.rate === undefined ? now : this.rate + weight * (now - this.rate)
    this.last = { done, at }
  }

  /** Milliseconds until `total`, or undefined while unknown (too early, stalled, or absurdly far). */
  msLeft (total: number): number | undefined {
    if (!this.first || !this.last || this.rate === undefined || this.rate <= 0) return undefined
    if (this.last.at - this.first.at < MIN_WATCHED_MS) return undefined
    const left = Math.max(0, total - this.last.done) / this.rate
    return left > MAX_LEFT_MS ? undefined : left
  }
}

/**
 * "45 s", "12 min", "2 h 5 min", or "—" when unknown. Coarse steps (5 s under a minute and a
 * half, whole minutes under an hour), rounded up: the text changes seldom and never promises
 * less than is left.
 */
export function formatTimeLeft (ms: number | undefined): string {
  if (ms === undefined) return '—'
  const s = Math.ceil(ms / 1000)
  if (s < 90) return `${Math.max(5, Math.ceil(s / 5) * 5)} s`
  const min = Math.ceil(s / 60)
  if (min < 60) return `${min} min`
  return min % 60 === 0 ? `${min / 60} h` : `${Math.floor(min / 60)} h ${min % 60} min`
}
