/**
 * Hashing off the main thread. The main thread parses the upload and writes the file; a worker
 * hashes the same bytes in parallel (SHA-256 + SHA-1 pieces cost as much CPU as the parsing).
 * Bytes go over in 1 MiB batches, copied once and transferred, at most 4 in flight per job
 * (a job's window); the worker hands each buffer back to the pool's spares, so uploads reuse the
 * same few MiB from start to end and a slow hasher slows the upload instead of piling up data.
 * Jobs share the workers (each goes to the least loaded), so a resumable upload can keep its
 * hashing state in a worker between requests without holding the worker to itself.
 */
import { Worker } from 'node:worker_threads'
import { ContentHasher, type ContentHashes, type PieceCheckpoint } from './contentHasher.ts'

const BATCH = 1 << 20
/** Batches a job may have in the worker before its feeder waits (see JobOptions.window). */
const MAX_IN_FLIGHT = 4
/**
 * Batch buffers kept for the next batch of any job. A resumable upload rests between requests;
 * allocating its buffers again for each request (1 GiB of them in 8 MiB requests) kept V8's
 * garbage collector threads busy. Idle spares are let go after SPARE_IDLE_MS.
 */
const MAX_SPARE = 16
const SPARE_IDLE_MS = 10_000

export interface JobOptions {
  /** Start the piece hashes from this checkpoint (a resumed upload). */
  resume?: PieceCheckpoint
  /**
   * MiB the hasher may trail behind. A resumable upload uses a whole request's worth, so the
   * worker hashes the end of one request while the answer goes out and the next one comes in.
   */
  window?: number
}
const ENTRY = new URL('./hashWorker.mjs', import.meta.url)

/** Hashes one upload's bytes; `update` returns a promise when the caller should wait. */
export interface HashJob {
  update (chunk: Uint8Array): void | Promise<void>
  /** The whole pieces hashed so far (for a resumable upload's saved state). */
  checkpoint (): Promise<PieceCheckpoint | undefined>
  finish (): Promise<ContentHashes>
  /** Forget the job without a result. */
  drop (): void
  /** Nothing more for a while: hand over what is batched (the buffers go back to the pool). */
  rest (): void
}

class InlineJob implements HashJob {
  private readonly hasher: ContentHasher
  constructor (pieceLengths: number[], resume?: PieceCheckpoint) { this.hasher = new ContentHasher(pieceLengths, resume) }
  update (chunk: Uint8Array): void { this.hasher.update(chunk) }
  async checkpoint (): Promise<PieceCheckpoint | undefined> { return this.hasher.checkpoint() }
  async finish (): Promise<ContentHashes> { return this.hasher.finish() }
  drop (): void {}
  rest (): void {}
}

type Reply =
  | { type: 'ack', id: number, buffer: ArrayBuffer }
  | { type: 'checkpoint', id: number, checkpoint?: PieceCheckpoint }
  | { type: 'result', id: number, result: ContentHashes }

/** Batch buffers shared by every job of a pool. */
class Spares {
  private readonly free: ArrayBuffer[] = []
  private timer: NodeJS.Timeout | undefined

  take (): ArrayBuffer {
    return this.free.pop() ?? new ArrayBuffer(BATCH)
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

interface PooledWorker {
  worker: Worker
  ready: Promise<void>
  /** Open jobs by id: each gets the replies (or the worker's death) for its id. */
  jobs: Map<number, { reply: (msg: Reply) => void, fail: (err: Error) => void }>
}

let nextId = 1

class WorkerJob implements HashJob {
  private readonly id = nextId++
  /** Taken from the pool's spares when bytes come; the worker hands it back there. */
  private batch: Uint8Array<ArrayBuffer> | undefined
  private filled = 0
  private inFlight = 0
  private waiting: (() => void) | undefined
  private failed: Error | undefined
  /** Questions asked and not yet answered; the worker answers in order. */
  private readonly pending: Array<{ resolve: (v: any) => void, reject: (e: Error) => void }> = []

  private readonly window: number

  constructor (private readonly pooled: PooledWorker, private readonly spares: Spares, pieceLengths: number[], { resume, window = MAX_IN_FLIGHT }: JobOptions) {
    this.window = window
    pooled.jobs.set(this.id, {
      reply: msg => {
        if (msg.type === 'ack') {
          spares.give(msg.buffer)
          this.inFlight--
          const wake = this.waiting
          this.waiting = undefined
          wake?.()
        } else {
          const p = this.pending.shift()
          if (msg.type === 'result') pooled.jobs.delete(this.id)
          p?.resolve(msg.type === 'result' ? msg.result : msg.checkpoint)
        }
      },
      fail: err => {
        this.failed = err
        this.waiting?.()
        for (const p of this.pending.splice(0)) p.reject(err)
      }
    })
    pooled.worker.postMessage({ type: 'start', id: this.id, pieceLengths, resume })
  }

  update (chunk: Uint8Array): void | Promise<void> {
    let offset = 0
    while (offset < chunk.length) {
      this.batch ??= new Uint8Array(this.spares.take())
      const take = Math.min(BATCH - this.filled, chunk.length - offset)
      this.batch.set(chunk.subarray(offset, offset + take), this.filled)
      this.filled += take
      offset += take
      if (this.filled === BATCH) this.send()
    }
    if (this.failed) throw this.failed
    if (this.inFlight >= this.window) return new Promise(resolve => { this.waiting = resolve })
  }

  async checkpoint (): Promise<PieceCheckpoint | undefined> {
    return await this.ask('checkpoint')
  }

  async finish (): Promise<ContentHashes> {
    return await this.ask('finish')
  }

  rest (): void {
    if (this.filled > 0) this.send()
  }

  drop (): void {
    if (!this.pooled.jobs.delete(this.id)) return
    this.pooled.worker.postMessage({ type: 'drop', id: this.id })
  }

  /** Send what is batched, then the question: the worker answers after hashing every byte before it. */
  private async ask<T> (type: 'checkpoint' | 'finish'): Promise<T> {
    if (this.failed) throw this.failed
    if (this.filled > 0) this.send()
    const answer = new Promise<T>((resolve, reject) => { this.pending.push({ resolve, reject }) })
    this.pooled.worker.postMessage({ type, id: this.id })
    return await answer
  }

  private send (): void {
    const buffer = this.batch!.buffer
    this.pooled.worker.postMessage({ type: 'chunk', id: this.id, buffer, length: this.filled }, [buffer])
    this.inFlight++
    this.batch = undefined
    this.filled = 0
  }
}

export class HashPool {
  private readonly workers: PooledWorker[] = []
  private readonly spares = new Spares()
  private readonly size: number

  /** `size` 0 hashes everything on the main thread. */
  constructor (size: number) {
    this.size = size
  }

  /** Start the workers now, so the first upload does not wait for one. */
  async warm (): Promise<void> {
    while (this.workers.length < this.size) this.spawn()
    await Promise.all(this.workers.map(w => w.ready))
  }

  /** A job on the least loaded worker. */
  job (pieceLengths: number[], opts: JobOptions = {}): HashJob {
    if (this.size === 0) return new InlineJob(pieceLengths, opts.resume)
    const least = this.workers.reduce<PooledWorker | undefined>((best, w) => !best || w.jobs.size < best.jobs.size ? w : best, undefined)
    const worker = !least || (least.jobs.size > 0 && this.workers.length < this.size) ? this.spawn() : least
    return new WorkerJob(worker, this.spares, pieceLengths, opts)
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
