/**
 * Admission for uploads: at most MAX_CONCURRENT_UPLOADS at once (429 with Retry-After), none
 * while free disk is under the low-water mark (507; serving goes on), none once shutdown has
 * begun (503), and a way to wait for the ones in flight. A resumable upload reserves room for
 * the bytes it declared, so uploads admitted one by one never add up to more than the disk has.
 * When uploads do not go to the local disk (BLOB_STORE=s3: files and tus uploads are in the
 * bucket), its room is neither checked nor reserved.
 */
import fs from 'node:fs/promises'
import { AppError } from '../../shared/errors.ts'

export interface UploadGateOptions {
  maxConcurrent: number
  /** Uploads are refused while the media disk has less free space than this; undefined: uploads do not use the disk. */
  lowWaterBytes: number | undefined
  mediaDir: string
  onChange?: (inFlight: number) => void
  /** Free bytes on the disk under a folder (statfs; tests give a slow one). */
  freeBytes?: (dir: string) => Promise<number>
}

/** Free bytes on the disk under a folder (what an unprivileged writer may use), and its size. */
export const diskSpace = async (dir: string): Promise<{ free: number, size: number }> => {
  const s = await fs.statfs(dir)
  return { free: s.bavail * s.bsize, size: s.blocks * s.bsize }
}

export const freeBytes = async (dir: string): Promise<number> => (await diskSpace(dir)).free

const shuttingDown = (): AppError => new AppError(503, 'shutting_down', 'The server is restarting. Send the upload again in a moment.')

/** Free space is asked of the disk at most this often (a resumable upload enters once per request). */
const FREE_BYTES_TTL_MS = 1000

export class UploadGate {
  private inFlight = 0
  private closing = false
  private idle: (() => void) | undefined
  private free: { bytes: number, at: number } | undefined
  /** Bytes that admitted resumable uploads have declared and not sent yet. */
  private reserved = 0

  constructor (private readonly opts: UploadGateOptions) {}

  private async freeBytes (): Promise<number> {
    if (this.free && performance.now() - this.free.at < FREE_BYTES_TTL_MS) return this.free.bytes
    this.free = { bytes: await (this.opts.freeBytes ?? freeBytes)(this.opts.mediaDir), at: performance.now() }
    return this.free.bytes
  }

  get active (): number {
    return this.inFlight
  }

  /**
   * Take a slot or refuse; the function returned gives it back. The slot is taken before the
   * disk is asked, so uploads entering at the same moment never pass the limit together.
   * `reserved`: the upload holds a reservation, so only a disk that is already low stops it;
   * any other upload must also leave the reserved room alone.
   */
  async enter (opts: { reserved?: boolean } = {}): Promise<() => void> {
    if (this.closing) throw shuttingDown()
    if (this.inFlight >= this.opts.maxConcurrent) {
      throw Object.assign(new AppError(429, 'too_many_uploads', `The server is taking ${this.opts.maxConcurrent} uploads at once already. Try again in a few seconds.`), { retryAfter: 5 })
    }
    this.inFlight++
    this.opts.onChange?.(this.inFlight)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.inFlight--
      this.opts.onChange?.(this.inFlight)
      if (this.inFlight === 0) this.idle?.()
    }
    try {
      const { lowWaterBytes } = this.opts
      if (lowWaterBytes !== undefined && await this.freeBytes() - (opts.reserved ? 0 : this.reserved) < lowWaterBytes) {
        throw new AppError(507, 'insufficient_storage', 'The server is low on disk space and takes no uploads for now; downloads still work. Try again later or tell the operator.')
      }
    } catch (err) {
      release()
      throw err
    }
    return release
  }

  /**
   * Reserve room for a file that declares its size up front (a resumable upload), or refuse at
   * once when it could not fit beside the room already reserved. Checked and taken in one step
   * after the disk is asked, so two uploads that fit only one at a time cannot both be admitted.
   */
  async reserve (bytes: number): Promise<void> {
    if (this.closing) throw shuttingDown()
    const { lowWaterBytes } = this.opts
    if (lowWaterBytes === undefined) return
    const free = await this.freeBytes()
    if (free - this.reserved - bytes < lowWaterBytes) {
      throw new AppError(507, 'insufficient_storage', `The server has no room for a file of ${bytes} bytes right now. Try again later or tell the operator.`)
    }
    this.hold(bytes)
  }

  /** Hold room without asking (uploads admitted before a restart keep their claim). */
  hold (bytes: number): void {
    this.reserved += bytes
  }

  /**
   * Reserved room no longer needed: its bytes arrived (the disk counts them now) or its upload
   * ended. Each upload's row says how much it holds, so no upload is tracked here.
   */
  release (bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes)
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
