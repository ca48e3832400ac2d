/**
 * seeder.json: the seed's seeding-state file, kept as a snapshot of the database's public
 * seeding state for anyone who reads MEDIA_DIR the seed's way. The database is the source of
 * truth; this file is written after changes, never per upload: at most once per interval,
 * which grows with the time a write takes (≤ 10% of the time at any catalogue size), at
 * shutdown when changed and quick to write, and at a start only when the database marks it
 * stale (a change the file may lack: seederJsonMark.ts) or it is missing or damaged. It is
 * streamed from the database a page at a time, so memory stays flat.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { PublicSeed } from '../catalog/seedRepository.ts'
import type { SeederJsonMark } from '../catalog/seederJsonMark.ts'
import type { Logger } from '../logger.ts'

/** What the file holds; version 3 puts each seed's last-wanted time beside it (1 and 2 are still imported). */
export interface SeedingStateFile {
  version: 3
  seeding: Array<{ mediaId: string, infoHash: string, name: string, fileSize: number, createdAt: number, wantedAt: number }>
}

export interface SeedingSnapshotOptions {
  file: string
  seeds: () => AsyncIterable<PublicSeed>
  mark: Pick<SeederJsonMark, 'token' | 'clear'>
  log: Logger
  /** The shortest time between two writes (ms). */
  minIntervalMs?: number
  /** At shutdown, write only if the last write took at most this long (ms); else the next start does. */
  shutdownBudgetMs?: number
  /** How many seeds a write lists (a few rows' read): what a write would take before one was timed. */
  publicSeeds: () => Promise<number>
  /**
   * Nodes share the catalogue: only the one that leads (this function says whether it does)
   * writes, and it learns of the others' changes from the mark, read at every tick.
   */
  writer?: () => boolean
}

const CHUNK = 1 << 20
const SHUTDOWN_BUDGET_MS = 5000
/**
 * Before any write was timed, a write's time is guessed from the seeds it would list at this
 * many per ms (a million took about a minute here: ~17 per ms).
 */
const GUESSED_SEEDS_PER_MS = 10
const HEAD = '{"version":3,"seeding":['
const TAIL = ']}'

export class SeedingSnapshot {
  private readonly opts: SeedingSnapshotOptions
  private dirty = false
  private notBefore = 0
  /** How long the last write took (ms), once one was made. */
  private lastTook: number | undefined
  private stopping = false
  private inFlight = false
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()

  constructor (opts: SeedingSnapshotOptions) {
    this.opts = opts
  }

  /** A write is waiting for its turn. */
  get due (): boolean {
    return this.dirty
  }

  /** The public seeding state changed: write the snapshot when the interval allows. */
  changed (): void {
    this.dirty = true
  }

  /** Writes from now on; the first soon if the file is marked stale, or missing or damaged. */
  async start (): Promise<void> {
    if (!await this.looksWhole() || await this.opts.mark.token() !== undefined) this.dirty = true
    this.timer = setInterval(() => {
      void this.tick().catch(err => { if (!this.stopping) this.opts.log.warn({ err: (err as Error).message }, 'could not write seeder.json') })
    }, 1000)
    this.timer.unref()
  }

  /** Write it now (temp file, fsync, rename); writes never overlap. */
  async write (): Promise<void> {
    const run = async (): Promise<void> => {
      this.dirty = false
      this.inFlight = true
      const started = Date.now()
      try {
        await this.writeFile()
      } catch (err) {
        this.dirty = true
        throw err
      } finally {
        this.inFlight = false
        const took = Date.now() - started
        this.lastTook = took
        this.notBefore = Date.now() + Math.max(this.opts.minIntervalMs ?? 5000, 10 * took)
      }
    }
    this.writing = this.writing.then(run, run)
    await this.writing
  }

  private async tick (): Promise<void> {
    const { writer, mark } = this.opts
    if (writer && !writer()) return
    if (writer && !this.dirty && !this.inFlight && await mark.token() !== undefined) this.dirty = true
    if (this.dirty && Date.now() >= this.notBefore) await this.write()
  }

  /**
   * The last write, if anything changed since the one before. When a write is under way it is
   * given up, and none is made when the last one took longer than the shutdown budget (a
   * catalogue of millions takes a minute), or, with none timed yet, when it would list enough
   * seeds to take that long: the database keeps the file marked stale, so the next start writes
   * it, and a stop stays quick.
   */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.stopping = true
    const interrupted = this.inFlight
    await this.writing.catch(() => {})
    if (this.opts.writer?.() === false) return
    if (!this.dirty && await this.opts.mark.token() === undefined) return
    const took = this.lastTook ?? await this.guessedWriteMs()
    if (interrupted || took > (this.opts.shutdownBudgetMs ?? SHUTDOWN_BUDGET_MS)) {
      this.opts.log.info({ writeMs: took }, 'seeder.json is behind the database and takes long to write: the next start writes it')
      return
    }
    this.stopping = false
    await this.write()
  }

  /** How long a write would take, going by the seeds it would list. */
  private async guessedWriteMs (): Promise<number> {
    return await this.opts.publicSeeds() / GUESSED_SEEDS_PER_MS
  }

  /** The file starts and ends as a version 3 snapshot does (its two ends only: the cost is flat). */
  private async looksWhole (): Promise<boolean> {
    const handle = await fs.open(this.opts.file, 'r').catch(() => undefined)
    if (!handle) return false
    try {
      const { size } = await handle.stat()
      const head = Buffer.alloc(HEAD.length)
      const tail = Buffer.alloc(TAIL.length)
      await handle.read(head, 0, head.length, 0)
      await handle.read(tail, 0, tail.length, Math.max(0, size - tail.length))
      return size >= HEAD.length + TAIL.length && head.toString() === HEAD && tail.toString() === TAIL
    } finally {
      await handle.close()
    }
  }

  private async writeFile (): Promise<void> {
    const { file, mark } = this.opts
    // Read before the stream: a change after this point writes a new token and keeps the mark.
    const token = await mark.token()
    // One name (writes never overlap): a file left by a crash is written over by the next write.
    const tmp = `${file}.tmp`
    const handle = await fs.open(tmp, 'w', 0o644)
    try {
      let buffer = HEAD
      let first = true
      for await (const s of this.opts.seeds()) {
        if (this.stopping) throw new Error('stopping: seeder.json is left for the next start')
        buffer += (first ? '' : ',') + JSON.stringify({ mediaId: s.mediaId, infoHash: s.infoHash, name: s.name, fileSize: s.fileSize, createdAt: s.seededAt, wantedAt: s.wantedAt })
        first = false
        if (buffer.length >= CHUNK) {
          await handle.write(buffer)
          buffer = ''
        }
      }
      await handle.write(buffer + TAIL)
      await handle.sync()
    } catch (err) {
      await handle.close()
      await fs.rm(tmp, { force: true })
      throw err
    }
    await handle.close()
    await fs.rename(tmp, file)
    const dir = await fs.open(path.dirname(file), 'r')
    try { await dir.sync() } finally { await dir.close() }
    if (token !== undefined) await mark.clear(token)
  }
}
