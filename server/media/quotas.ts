/**
 * What one key may store (QUOTA_BYTES_PER_KEY, QUOTA_FILES_PER_KEY) and pin (PINS_PER_KEY).
 * Bytes count the distinct files a key has records for, each once, whoever stored them first;
 * anonymous uploads share the owner ''. Admin keys (ADMIN_PUBLIC_KEYS) have no limits of their own.
 */
import { AppError } from '../../shared/errors.ts'
import type { KeyUsage } from '../../shared/media.ts'
import type { OwnerKey, RecordRepository, StorageUse } from '../records/recordRepository.ts'

export interface QuotaLimits {
  bytesPerKey: number
  filesPerKey: number
  pinsPerKey: number
  adminKeys: string[]
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB']

/** 1536 → "1.5 KiB"; under a KiB, in bytes. */
export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`
}

const NONE: StorageUse = { bytes: 0, files: 0 }

export class Quotas {
  constructor (private readonly limits: QuotaLimits) {}

  /**
   * Refuse a new file of `bytes` for `owner`, who stores `use` and has `pending` in unfinished
   * uploads: 413 `quota_exceeded` (bytes) or `file_quota_exceeded` (files). Nothing is kept.
   */
  admit (owner: OwnerKey, use: StorageUse, bytes: number, pending: StorageUse = NONE): void {
    if (this.exempt(owner)) return
    const { bytesPerKey, filesPerKey } = this.limits
    const waiting = pending.files > 0 ? `, plus ${formatBytes(pending.bytes)} in ${pending.files} unfinished upload${pending.files === 1 ? '' : 's'},` : ''
    if (use.bytes + pending.bytes + bytes > bytesPerKey) {
      throw new AppError(413, 'quota_exceeded', `You store ${formatBytes(use.bytes)}${waiting} of ${formatBytes(bytesPerKey)} allowed; this file needs ${formatBytes(bytes)} more. Delete files or ask the operator.`)
    }
    if (use.files + pending.files + 1 > filesPerKey) {
      throw new AppError(413, 'file_quota_exceeded', `You have ${use.files} files${pending.files > 0 ? `, plus ${pending.files} unfinished uploads,` : ''} of ${filesPerKey} allowed; this would be one more. Delete files or ask the operator.`)
    }
  }

  /**
   * Admin keys have no quota, so their use need not be summed: it is the one sum that is not
   * bounded by a quota (an indexer's admin key may hold millions of files).
   */
  exempt (owner: OwnerKey): boolean {
    return this.limits.adminKeys.includes(owner)
  }

  /** What `owner` stores, as `admit` needs it: nothing is read for an exempt key. */
  async useOf (owner: OwnerKey, records: Pick<RecordRepository, 'usage'>): Promise<StorageUse> {
    return this.exempt(owner) ? NONE : await records.usage(owner)
  }

  /** What `owner` stores and pins, against the limits that apply to it. */
  async usageOf (owner: OwnerKey, records: Pick<RecordRepository, 'usage' | 'pinnedCount'>): Promise<KeyUsage> {
    const { bytesPerKey, filesPerKey, pinsPerKey } = this.limits
    return {
      ...await this.useOf(owner, records),
      // Bounded by PINS_PER_KEY, and for admins by the server's pin slots.
      pins: await records.pinnedCount(owner),
      limits: { bytesPerKey, filesPerKey, pinsPerKey },
      exempt: this.exempt(owner)
    }
  }

  /** Refuse one more pin for a key that has `pinned` already: 409 `key_pin_limit`. */
  admitPin (owner: OwnerKey, pinned: number): void {
    if (this.limits.adminKeys.includes(owner) || pinned < this.limits.pinsPerKey) return
    throw new AppError(409, 'key_pin_limit', `You have pinned ${pinned} of the ${this.limits.pinsPerKey} files a key may pin (PINS_PER_KEY). Unpin one first, or ask the operator.`)
  }
}
