/**
 * Named crash points for the crash tests: a server started with OIP_CRASH_AT=<name> kills
 * itself with SIGKILL the first time it reaches that point, exactly as a power cut there would.
 * Each point marks a step between two writes that must not be torn apart by a crash;
 * test/server/crash.test.ts starts the real server at each one and checks what a restart makes
 * of it. Unset (always, outside those tests) it does nothing.
 */
export type CrashPointName =
  /** Every byte of an upload is in the S3 store's staging parts; nothing is under its id yet. */
  | 'staged'
  /** The blob is published; its uploader's record is not made yet. */
  | 'after-publish'
  /** A public record and its seeding state are committed; the seeder has not brought its torrent up yet. */
  | 'after-record'
  /** Inside the transaction of a first public record: the face is renamed, nothing is committed. */
  | 'in-record-transaction'
  /** A delete's database changes are committed; the seeder and the blob are not touched yet. */
  | 'mid-delete'

const armed = process.env.OIP_CRASH_AT

export function crashPoint (name: CrashPointName): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL')
}
