/**
 * A bound on what byte responses hold: each one sending a file keeps two 256 KiB buffers until
 * its client has taken the bytes, so at most MAX_BYTE_RESPONSES are sent at once, and at most
 * MAX_BYTE_RESPONSES_PER_ADDRESS to one client address. Past either, 503 with Retry-After.
 */
import { AppError } from '../../shared/errors.ts'

export interface ResponseSlotLimits {
  max: number
  perAddress: number
  /** Told the number in flight whenever it changes (for /metrics). */
  onChange?: (inFlight: number) => void
}

/** How long a refused client is asked to wait: a slot frees when some response ends. */
const RETRY_AFTER_SECONDS = 5

const busy = (code: string, message: string): AppError => Object.assign(new AppError(503, code, message), { retryAfter: RETRY_AFTER_SECONDS })

export class ResponseSlots {
  private inFlight = 0
  private readonly byAddress = new Map<string, number>()

  constructor (private readonly limits: ResponseSlotLimits) {}

  /** Take a slot for `address` or refuse; the function returned gives it back (once). */
  take (address: string): () => void {
    const { max, perAddress, onChange } = this.limits
    const mine = this.byAddress.get(address) ?? 0
    if (mine >= perAddress) {
      throw busy('too_many_downloads', `Your address is already being sent ${mine} files at once, the most this server allows (MAX_BYTE_RESPONSES_PER_ADDRESS). Let one finish or cancel it, then try again.`)
    }
    if (this.inFlight >= max) {
      throw busy('server_busy', `The server is sending ${max} files at once, the most it allows (MAX_BYTE_RESPONSES). Try again in a few seconds.`)
    }
    this.inFlight++
    this.byAddress.set(address, mine + 1)
    onChange?.(this.inFlight)
    let released = false
    return () => {
      if (released) return
      released = true
      this.inFlight--
      const left = (this.byAddress.get(address) ?? 1) - 1
      if (left === 0) this.byAddress.delete(address)
      else this.byAddress.set(address, left)
      onChange?.(this.inFlight)
    }
  }
}
