/**
 * Admission for uploads: at most MAX_CONCURRENT_UPLOADS at once (429 with Retry-After), none
 * while free disk is under the low-water mark (507; serving goes on), none once shutdown has
 * begun (503), and a way to wait for the ones in flight.
 */
import fs from 'node:fs/promises'
import { AppError } from '../../shared/errors.ts'

export interface UploadGateOptions {
  maxConcurrent: number
  /** Uploads are refused while the media disk has less free space than this. */
  lowWaterBytes: number
  mediaDir: string
  onChange?: (inFlight: number) => void
}

export const freeBytes = async (dir: string): Promise<number> => {
  const s = await fs.statfs(dir)
  return s.bavail * s.bsize
}

const shuttingDown = (): AppError => new AppError(503, 'shutting_down', 'The server is restarting. Send the upload again in a moment.')

/** Free space is asked of the disk at most this often (a resumable upload enters once per request). */
const FREE_BYTES_TTL_MS = 1000

export class UploadGate {
  private inFlight = 0
  private closing = false
  private idle: (() => void) | undefined
  private free: { bytes: number, at: number } | undefined

  constructor (private readonly opts: UploadGateOptions) {}

  private async freeBytes (): Promise<number> {
    if (this.free && performance.now() - this.free.at < FREE_BYTES_TTL_MS) return this.free.bytes
    this.free = { bytes: await freeBytes(this.opts.mediaDir), at: performance.now() }
    return this.free.bytes
  }

  get active (): number {
    return this.inFlight
  }

  /** Take a slot or refuse; the function returned gives it back. */
  async enter (): Promise<() => void> {
    if (this.closing) throw shuttingDown()
    if (this.inFlight >= this.opts.maxConcurrent) {
      throw Object.assign(new AppError(429, 'too_many_uploads', `The server is taking ${this.opts.maxConcurrent} uploads at once already. Try again in a few seconds.`), { retryAfter: 5 })
    }
    if (await this.freeBytes() < this.opts.lowWaterBytes) {
      throw new AppError(507, 'insufficient_storage', 'The server is low on disk space and takes no uploads for now; downloads still work. Try again later or tell the operator.')
    }
    this.inFlight++
    this.opts.onChange?.(this.inFlight)
    let released = false
    return () => {
      if (released) return
      released = true
      this.inFlight--
      this.opts.onChange?.(this.inFlight)
      if (this.inFlight === 0) this.idle?.()
    }
  }

  /** Refuse at once a file that could not fit (a resumable upload declares its size up front). */
  async ensureRoom (bytes: number): Promise<void> {
    if (this.closing) throw shuttingDown()
    if (await this.freeBytes() - bytes < this.opts.lowWaterBytes) {
      throw new AppError(507, 'insufficient_storage', `The server has no room for a file of ${bytes} bytes right now. Try again later or tell the operator.`)
    }
  }

  /** Stop admitting uploads; resolve when those in flight are done or `graceMs` has passed. */
  async drain (graceMs: number): Promise<void> {
    this.closing = true
    if (this.inFlight === 0) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, graceMs)
      this.idle = () => { clearTimeout(timer); resolve() }
    })
  }
}
