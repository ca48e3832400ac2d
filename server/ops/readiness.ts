/** GET /readyz: can this instance do its job right now? Each check says why when it cannot. */
import fs from 'node:fs/promises'
import path from 'node:path'
import { freeBytes } from '../upload/uploadGate.ts'

export interface ReadinessDeps {
  /** Answers a trivial query, or throws. */
  pingDatabase: () => Promise<void>
  mediaDir: string
  lowWaterBytes: number
  seederReady: () => boolean
  trackerReady: () => boolean
}

export interface Readiness {
  ready: boolean
  checks: Record<string, { ok: boolean, reason?: string }>
}

async function check (run: () => Promise<void> | void): Promise<{ ok: boolean, reason?: string }> {
  try {
    await run()
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
}

export async function readiness (deps: ReadinessDeps): Promise<Readiness> {
  const checks = {
    database: await check(deps.pingDatabase),
    // Asked, not written: anyone may call /readyz, and a call must not cost a disk write.
    // access(W_OK) sees permissions and read-only mounts; a full disk shows in the disk check.
    // Reasons name the folder by its setting, never by its absolute path.
    mediaDir: await check(async () => {
      const incoming = path.join(deps.mediaDir, '.incoming')
      try {
        if (!(await fs.stat(incoming)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
        await fs.access(incoming, fs.constants.W_OK)
      } catch (err) {
        throw new Error(`MEDIA_DIR/.incoming is not a writable folder (${(err as NodeJS.ErrnoException).code ?? 'unknown error'}): uploads would fail`)
      }
    }),
    seeder: await check(() => { if (!deps.seederReady()) throw new Error('the BitTorrent client did not start') }),
    tracker: await check(() => { if (!deps.trackerReady()) throw new Error('the tracker is closed') }),
    disk: await check(async () => {
      const free = await freeBytes(deps.mediaDir)
      if (free < deps.lowWaterBytes) throw new Error(`${free} bytes free, under the low-water mark of ${deps.lowWaterBytes}: uploads are refused`)
    })
  }
  return { ready: Object.values(checks).every(c => c.ok), checks }
}
