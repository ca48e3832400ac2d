/** GET /readyz: can this instance do its job right now? Each check says why when it cannot. */
import { freeBytes } from '../upload/uploadGate.ts'

export interface ReadinessDeps {
  /** Answers a trivial query, or throws. */
  pingDatabase: () => Promise<void>
  /** Whether the blob store can take uploads (BlobStore.check). */
  checkBlobStore: () => Promise<void>
  mediaDir: string
  /** DISK_LOW_WATER_BYTES; undefined when uploads do not go to MEDIA_DIR's disk (BLOB_STORE=s3): then it is not a check. */
  lowWaterBytes: number | undefined
  seederReady: () => boolean
  /** The tracker runs here (this node leads), or the leader is known to forward to. */
  trackerReady: () => boolean
  /** Which node answered, and whether it leads (nodes sharing a catalogue). */
  node: () => { id: string, leads: boolean }
}

export interface Readiness {
  ready: boolean
  checks: Record<string, { ok: boolean, reason?: string }>
  node: { id: string, leads: boolean }
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
  const { lowWaterBytes } = deps
  const checks: Readiness['checks'] = {
    database: await check(deps.pingDatabase),
    blobStore: await check(deps.checkBlobStore),
    seeder: await check(() => { if (!deps.seederReady()) throw new Error('the BitTorrent client did not start') }),
    tracker: await check(() => { if (!deps.trackerReady()) throw new Error('the tracker is closed, or no node leads to forward announces to') })
  }
  if (lowWaterBytes !== undefined) {
    checks.disk = await check(async () => {
      const free = await freeBytes(deps.mediaDir)
      if (free < lowWaterBytes) throw new Error(`MEDIA_DIR's disk has ${free} bytes free, under the low-water mark (DISK_LOW_WATER_BYTES) of ${lowWaterBytes}: uploads are refused`)
    })
  }
  return { ready: Object.values(checks).every(c => c.ok), checks, node: deps.node() }
}
