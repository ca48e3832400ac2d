/**
 * Another node's collector deletes staging nobody touched for the grace (ORPHAN_BLOB_GRACE). A
 * store touches its own uploads in flight every quarter of it (at most once a second), however
 * slowly their bytes come, so only a stopped node's staging ever looks abandoned.
 */
export function stagingHeartbeat (graceMs: number, touchInFlight: () => Promise<void>): NodeJS.Timeout {
  return setInterval(() => { void touchInFlight() }, Math.max(1000, graceMs / 4)).unref()
}
