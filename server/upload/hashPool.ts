/**
 * Hashing off the main thread, and the disk writes with it. The main thread parses the upload
 * and copies its bytes once, into 1 MiB batches. Each batch is written to the file (libuv's
 * thread pool), then moved to a worker that hashes it (SHA-256 + SHA-1 pieces) and hands the
 * buffer back for the next batch. Nothing else copies the bytes.
 *
 * Batch buffers are page-aligned, so the file can take them with direct I/O (see
 * storage/directFile.ts): on this kind of machine the kernel's copy into its page cache cost
 * more CPU than the SHA-256. Batches end at whole MiB of the file, so a file that starts at an
 * odd offset (a resumed upload) is aligned again after its first batch.
 *
 * At most `window` batches per job are in flight (being written or hashed); a slow disk or
 * hasher slows the upload instead of piling up data. Jobs share the workers (each goes to the
 * least loaded), so a resumable upload keeps its hashing state in a worker between requests
 * without holding the worker, or any batch, to itself.
 */
import { Worker } from 'node:worker_threads'
import type { FileWriter } from '../storage/blobStore.ts'
import type { ContentHashes, PieceCheckpoint } from './contentHasher.ts'
import type { HashState } from './hashState.ts'

const MiB = 1 << 20
const BATCH = MiB
/** Batches a job may have in flight before its feeder waits (see JobOptions.window). */
const MAX_IN_FLIGHT = 8
/** Batches in flight over all jobs: many uploads at once wait for the hasher, not for memory. */
const POOL_IN_FLIGHT = 64
/** Spare batch buffers kept for any job (a resting resumable upload's go back here), let go when idle. */
const MAX_SPARE = 16
const SPARE_IDLE_MS = 10_000

export interface JobOptions {
  /** Start the piece hashes from this checkpoint (a resumed upload). */
  resume?: PieceCheckpoint
  /**
   * Hash so that the state can be saved (state()), going on from `from` when given: the bytes
   * given are then those after `from.bytes`. For uploads whose next request may reach another node.
   */
  savable?: { from?: HashState }
  /**
   * Batches (MiB) the job may have in flight. A resumable upload uses a whole request's worth,
   * so the worker hashes the end of one request while the answer goes out and the next comes in.
   */
  window?: number
}
const ENTRY = new URL('./hashWorker.mjs', import.meta.url)

/** Hashes one upload's bytes, and writes them too while it has an output. */
export interface HashJob {
  /**
   * The bytes given from now on are also written to `output`, each at its offset from the
   * upload's first byte; undefined: only hashed (bytes re-read from disk after a restart).
   */
  writeTo (output: FileWriter | undefined): void
  /** Take the bytes; a promise means wait before giving more. Throws a failed write or hash. */
  update (chunk: Uint8Array): void | Promise<void>
  /**
   * Send what is batched and wait until every byte given so far is written (not necessarily
   * hashed). Then the job holds no batch until it gets more bytes.
   */
  flush (): Promise<void>
  /** The whole pieces hashed so far (for a resumable upload's saved state). */
  checkpoint (): Promise<PieceCheckpoint | undefined>
  /** A savable job's state once every byte given so far is hashed. */
  state (): Promise<HashState>
  finish (): Promise<ContentHashes>
  /** Forget the job without a result. */
  drop (): void
}

type Reply =
  | { type: 'ack', id: number, buffer: ArrayBuffer }
  | { type: 'checkpoint', id: number, checkpoint?: PieceCheckpoint }
  | { type: 'state', id: number, state: HashState }
  | { type: 'result', id: number, result: ContentHashes }
  | { type: 'failed', id: number, message: string }

type Question = 'checkpoint' | 'state' | 'finish'

interface PooledWorker {
  worker: Worker
  ready: Promise<void>
  /** Open jobs by id: each gets the replies (or the worker's death) for its id. */
  jobs: Map<number, { reply: (msg: Reply) => void, fail: (err: Error) => void }>
}

/**
 * Spare batch buffers shared by the jobs of a pool. Resizable ArrayBuffers, because V8 gives
 * those page-aligned memory (direct I/O needs it; a plain ArrayBuffer is 16 bytes off a page)
 * and they can still be transferred to a worker and back. Copies into them are plain memcpy:
 * shared memory (a SharedArrayBuffer or WebAssembly.Memory) was as aligned, but V8 copies into
 * it word by word, which cost the main thread ~0.4 s per GiB more. Idle spares are let go.
 */
class Spares {
  private readonly free: ArrayBuffer[] = []
  private timer: NodeJS.Timeout | undefined

  take (): ArrayBuffer {
    return this.free.pop() ?? new ArrayBuffer(BATCH, { maxByteLength: BATCH })
  }

  give (buffer: ArrayBuffer): void {
    if (this.free.length >= MAX_SPARE) return
    this.free.push(buffer)
    this.timer?.refresh()
    this.timer ??= setTimeout(() => this.clear(), SPARE_IDLE_MS).unref()
  }

  clear (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.free.length = 0
  }
}

/** The pool's batches in flight; jobs over it wait for room (each may always have one). */
class Budget {
  used = 0
  private readonly waiting = new Set<() => void>()

  get full (): boolean {
    return this.used >= POOL_IN_FLIGHT
  }

  take (): void {
    this.used++
  }

  give (n: number): void {
    this.used -= n
    if (this.full || n === 0) return
    const all = [...this.waiting]
    this.waiting.clear()
    for (const wake of all) wake()
  }

  onRoom (wake: () => void): void {
    this.waiting.add(wake)
  }
}

/** A full batch on its way: written first (if the job has an output), then hashed. */
interface Batch {
  buffer: ArrayBuffer
  length: number
  written: boolean
}

/** What goes to the worker, in order: batches, and questions about everything before them. */
type Outgoing = { batch: Batch } | { question: Question }

let nextId = 1

class WorkerJob implements HashJob {
  private readonly id = nextId++
  private output: FileWriter | undefined
  /** Bytes given so far: the file offset of the next byte. */
  private position = 0
  /** The batch being filled and its first byte's offset in the file. */
  private batch: { view: Uint8Array<ArrayBuffer>, start: number } | undefined
  private filled = 0
  /**
   * Not yet posted to the worker. A batch is posted once written (the buffer is ours until
   * then: a write must never read memory that moved to the worker); the order is kept.
   */
  private readonly outbox: Outgoing[] = []
  /** Batches sent and not yet hashed. */
  private inFlight = 0
  private waiting: (() => void) | undefined
  private failed: Error | undefined
  /** Questions asked and not yet answered; the worker answers in order. */
  private readonly pending: Array<{ resolve: (v: any) => void, reject: (e: Error) => void }> = []
  private readonly window: number
  /** Every write so far has settled (flush waits for it). */
  private writing: Promise<void> = Promise.resolve()
  private finishing = false

  constructor (private readonly pooled: PooledWorker, private readonly spares: Spares, private readonly budget: Budget, pieceLengths: number[], { resume, savable, window = MAX_IN_FLIGHT }: JobOptions) {
    this.window = window
    this.position = savable?.from?.bytes ?? 0
    pooled.jobs.set(this.id, {
      reply: msg => {
        if (msg.type === 'ack') {
          spares.give(msg.buffer)
          this.inFlight--
          budget.give(1)
          if (!this.mustWait()) this.wake()
        } else if (msg.type === 'failed') {
          this.fail(new Error(`hashing failed: ${msg.message}`))
        } else {
          const p = this.pending.shift()
          if (msg.type === 'result') pooled.jobs.delete(this.id)
          p?.resolve(msg.type === 'result' ? msg.result : msg.type === 'state' ? msg.state : msg.checkpoint)
        }
      },
      fail: err => this.fail(err)
    })
    pooled.worker.postMessage({ type: 'start', id: this.id, pieceLengths, resume, savable })
  }

  writeTo (output: FileWriter | undefined): void {
    if (this.filled > 0) this.send()
    this.output = output
  }

  update (chunk: Uint8Array): void | Promise<void> {
    if (this.failed) throw this.failed
    if (this.finishing) throw new Error('bytes given to a hash job after finish()')
    let offset = 0
    while (offset < chunk.length) {
      // Up to the next whole MiB of the file, so the batches after it are aligned in the file.
      this.batch ??= { view: new Uint8Array(this.spares.take(), 0, BATCH - this.position % BATCH), start: this.position }
      const take = Math.min(this.batch.view.length - this.filled, chunk.length - offset)
      this.batch.view.set(chunk.subarray(offset, offset + take), this.filled)
      this.filled += take
      this.position += take
      offset += take
      if (this.filled === this.batch.view.length) this.send()
    }
    if (!this.mustWait()) return
    if (this.inFlight < this.window) this.budget.onRoom(() => this.wake())
    return new Promise(resolve => { this.waiting = resolve })
  }

  private mustWait (): boolean {
    return this.inFlight >= this.window || (this.inFlight > 0 && this.budget.full)
  }

  async flush (): Promise<void> {
    if (this.failed) throw this.failed
    if (this.filled > 0) this.send()
    await this.writing
    if (this.failed) throw this.failed
  }

  async checkpoint (): Promise<PieceCheckpoint | undefined> {
    return await this.ask('checkpoint')
  }

  async state (): Promise<HashState> {
    return await this.ask('state')
  }

  async finish (): Promise<ContentHashes> {
    const result = this.ask<ContentHashes>('finish')
    this.finishing = true
    return await result
  }

  drop (): void {
    this.fail(new Error('The hash job was dropped.'))
  }

  /** The question goes after every byte given so far: the worker answers once it hashed them. */
  private async ask<T> (question: Question): Promise<T> {
    if (this.failed) throw this.failed
    if (this.filled > 0) this.send()
    const answer = new Promise<T>((resolve, reject) => { this.pending.push({ resolve, reject }) })
    this.outbox.push({ question })
    this.post()
    return await answer
  }

  private send (): void {
    const { view, start } = this.batch!
    const batch: Batch = { buffer: view.buffer, length: this.filled, written: !this.output }
    this.batch = undefined
    this.filled = 0
    if (this.failed) return
    const output = this.output
    if (output) {
      // Writes run side by side (one at a time cost ~0.08 of the ingest ratio). A crash can
      // leave a hole before the last ones, so a resumable upload acknowledges its size.
      const written = output.write(view.subarray(0, batch.length), start, true).then(() => {
        batch.written = true
        this.post()
      }, err => this.fail(err as Error))
      this.writing = Promise.all([this.writing, written]).then(() => {})
    }
    this.inFlight++
    this.budget.take()
    this.outbox.push({ batch })
    this.post()
  }

  /** Post what is ready, in order: questions, and batches that are written. */
  private post (): void {
    while (this.outbox.length > 0) {
      const next = this.outbox[0]!
      if ('question' in next) {
        this.pooled.worker.postMessage({ type: next.question, id: this.id })
      } else {
        if (!next.batch.written) return
        const { buffer, length } = next.batch
        this.pooled.worker.postMessage({ type: 'chunk', id: this.id, buffer, length }, [buffer])
      }
      this.outbox.shift()
    }
  }

  /** The job is over without a result: answer every question, let go of everything it held. */
  private fail (err: Error): void {
    if (this.failed) return
    this.failed = err
    this.outbox.length = 0
    for (const p of this.pending.splice(0)) p.reject(err)
    // Batches still in the worker are dropped there; their acknowledgements are not read.
    if (this.pooled.jobs.delete(this.id)) this.pooled.worker.postMessage({ type: 'drop', id: this.id })
    this.budget.give(this.inFlight)
    this.inFlight = 0
    this.wake()
  }

  private wake (): void {
    const wake = this.waiting
    this.waiting = undefined
    wake?.()
  }
}

export class HashPool {
  private readonly workers: PooledWorker[] = []
  private readonly spares = new Spares()
  private readonly budget = new Budget()
  private readonly size: number

  constructor (size: number) {
    this.size = size
  }

  /** Batches taken by jobs and not yet hashed or let go (all jobs together). */
  get batchesInFlight (): number {
    return this.budget.used
  }

  /** Start the workers now, so the first upload does not wait for one. */
  async warm (): Promise<void> {
    while (this.workers.length < this.size) this.spawn()
    await Promise.all(this.workers.map(w => w.ready))
  }

  /** A job on the least loaded worker. */
  job (pieceLengths: number[], opts: JobOptions = {}): HashJob {
    const least = this.workers.reduce<PooledWorker | undefined>((best, w) => !best || w.jobs.size < best.jobs.size ? w : best, undefined)
    const worker = !least || (least.jobs.size > 0 && this.workers.length < this.size) ? this.spawn() : least
    return new WorkerJob(worker, this.spares, this.budget, pieceLengths, opts)
  }

  async close (): Promise<void> {
    const all = this.workers.splice(0)
    this.spares.clear()
    await Promise.all(all.map(w => w.worker.terminate()))
  }

  private spawn (): PooledWorker {
    const worker = new Worker(ENTRY)
    worker.unref()
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve())
      worker.once('error', reject)
    })
    ready.catch(() => {})
    const pooled: PooledWorker = { worker, ready, jobs: new Map() }
    worker.on('message', (msg: Reply | { type: 'ready' }) => { if (msg.type !== 'ready') pooled.jobs.get(msg.id)?.reply(msg) })
    // A worker that dies fails its jobs and is dropped; the next job starts a new one.
    const die = (err: Error): void => {
      const i = this.workers.indexOf(pooled)
      if (i >= 0) this.workers.splice(i, 1)
      for (const job of pooled.jobs.values()) job.fail(err)
      pooled.jobs.clear()
    }
    worker.on('error', die)
    worker.on('exit', code => die(new Error(`hash worker exited with code ${code}`)))
    this.workers.push(pooled)
    return pooled
  }
}
