/**
 * Hashing off the main thread, and the disk writes with it. The main thread parses the upload
 * and copies its bytes once, into 1 MiB batches; a worker hashes each batch (SHA-256 + SHA-1
 * pieces) while libuv's thread pool writes the same batch to the file. Nothing else copies them.
 *
 * Batches live in one page-aligned shared memory (a WebAssembly.Memory), so the file can take
 * them with direct I/O (see storage/directFile.ts): on this kind of machine the kernel's copy
 * into its page cache cost more CPU than the SHA-256. Batches end at whole MiB of the file, so a
 * file that starts at an odd offset (a resumed upload) is aligned again after its first batch.
 *
 * At most `window` batches per job are in flight (hashed or written); a slow disk or hasher
 * slows the upload instead of piling up data. Jobs share the workers (each goes to the least
 * loaded), so a resumable upload keeps its hashing state in a worker between requests without
 * holding the worker, or any batch, to itself.
 */
import { Worker } from 'node:worker_threads'
import type { FileWriter } from '../storage/blobStore.ts'
import type { ContentHashes, PieceCheckpoint } from './contentHasher.ts'

const MiB = 1 << 20
const BATCH = MiB
/** Batches a job may have in flight before its feeder waits (see JobOptions.window). */
const MAX_IN_FLIGHT = 4
/**
 * Aligned batches shared by all jobs: 32 MiB of address space, of which only the batches used
 * take memory (the last freed is reused first). When all are taken a job uses a plain buffer,
 * which the file writes the ordinary way: never a wait, so stalled uploads cannot hold up others.
 */
const SLOTS = 32

export interface JobOptions {
  /** Start the piece hashes from this checkpoint (a resumed upload). */
  resume?: PieceCheckpoint
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
  finish (): Promise<ContentHashes>
  /** Forget the job without a result. */
  drop (): void
}

type Reply =
  | { type: 'ack', id: number }
  | { type: 'checkpoint', id: number, checkpoint?: PieceCheckpoint }
  | { type: 'result', id: number, result: ContentHashes }

interface PooledWorker {
  worker: Worker
  ready: Promise<void>
  /** Open jobs by id: each gets the replies (or the worker's death) for its id. */
  jobs: Map<number, { reply: (msg: Reply) => void, fail: (err: Error) => void }>
}

/** A batch's memory: a slot of the aligned memory, or a plain shared buffer when none is free. */
interface Memory {
  buffer: SharedArrayBuffer
  offset: number
  slot?: number
}

/** The aligned batch memory of a pool. */
class Slots {
  private readonly memory = new WebAssembly.Memory({ initial: SLOTS * BATCH / 65536, maximum: SLOTS * BATCH / 65536, shared: true })
  private readonly buffer = this.memory.buffer as unknown as SharedArrayBuffer
  private readonly free = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i)

  take (): Memory {
    const slot = this.free.pop()
    return slot === undefined ? { buffer: new SharedArrayBuffer(BATCH), offset: 0 } : { buffer: this.buffer, offset: slot * BATCH, slot }
  }

  give (memory: Memory): void {
    if (memory.slot !== undefined) this.free.push(memory.slot)
  }
}

/** A batch in flight: done when hashed and (with an output) written. */
interface Sent {
  memory: Memory
  hashed: boolean
  written: boolean
  writing?: Promise<void>
}

let nextId = 1

class WorkerJob implements HashJob {
  private readonly id = nextId++
  private output: FileWriter | undefined
  /** Bytes given so far: the file offset of the next byte. */
  private position = 0
  /** The batch being filled: its memory, its first byte's offset in the file, its size. */
  private batch: { memory: Memory, view: Uint8Array, start: number } | undefined
  private filled = 0
  /** In the order sent (the worker acknowledges in that order). */
  private readonly sent: Sent[] = []
  private waiting: (() => void) | undefined
  private failed: Error | undefined
  /** Questions asked and not yet answered; the worker answers in order. */
  private readonly pending: Array<{ resolve: (v: any) => void, reject: (e: Error) => void }> = []
  private readonly window: number
  private dropped = false

  constructor (private readonly pooled: PooledWorker, private readonly slots: Slots, pieceLengths: number[], { resume, window = MAX_IN_FLIGHT }: JobOptions) {
    this.window = window
    pooled.jobs.set(this.id, {
      reply: msg => {
        if (msg.type === 'ack') {
          const batch = this.sent.find(s => !s.hashed)
          if (batch) batch.hashed = true
          this.settle()
        } else {
          const p = this.pending.shift()
          if (msg.type === 'result') pooled.jobs.delete(this.id)
          p?.resolve(msg.type === 'result' ? msg.result : msg.checkpoint)
        }
      },
      fail: err => {
        // The worker is gone: no batch will be acknowledged.
        this.fail(err)
        this.forgetHashing()
      }
    })
    pooled.worker.postMessage({ type: 'start', id: this.id, pieceLengths, resume })
  }

  writeTo (output: FileWriter | undefined): void {
    if (this.filled > 0) this.send()
    this.output = output
  }

  update (chunk: Uint8Array): void | Promise<void> {
    if (this.failed) throw this.failed
    let offset = 0
    while (offset < chunk.length) {
      if (!this.batch) {
        const memory = this.slots.take()
        // Up to the next whole MiB of the file, so the batches after it are aligned in the file.
        const size = BATCH - this.position % BATCH
        this.batch = { memory, view: new Uint8Array(memory.buffer, memory.offset, size), start: this.position }
      }
      const take = Math.min(this.batch.view.length - this.filled, chunk.length - offset)
      this.batch.view.set(chunk.subarray(offset, offset + take), this.filled)
      this.filled += take
      this.position += take
      offset += take
      if (this.filled === this.batch.view.length) this.send()
    }
    if (this.sent.length >= this.window) return new Promise(resolve => { this.waiting = resolve })
  }

  async flush (): Promise<void> {
    if (this.filled > 0) this.send()
    await Promise.all(this.sent.map(s => s.writing))
    if (this.failed) throw this.failed
  }

  async checkpoint (): Promise<PieceCheckpoint | undefined> {
    return await this.ask('checkpoint')
  }

  async finish (): Promise<ContentHashes> {
    return await this.ask('finish')
  }

  drop (): void {
    this.dropped = true
    if (!this.pooled.jobs.delete(this.id)) return
    this.pooled.worker.postMessage({ type: 'drop', id: this.id })
    // Its result is not wanted, so the batches may go back before the worker is done with them.
    this.forgetHashing()
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
    const { memory, view, start } = this.batch!
    const bytes = view.subarray(0, this.filled)
    this.batch = undefined
    this.filled = 0
    if (this.dropped) {
      this.slots.give(memory)
      return
    }
    const sent: Sent = { memory, hashed: false, written: !this.output }
    this.pooled.worker.postMessage({ type: 'chunk', id: this.id, buffer: memory.buffer, offset: memory.offset, length: bytes.length })
    if (this.output) {
      sent.writing = this.output.write(bytes, start, memory.slot !== undefined)
        .catch(err => this.fail(err as Error))
        .finally(() => {
          sent.written = true
          this.settle()
        })
    }
    this.sent.push(sent)
  }

  /** Let go of the batches that are hashed and written, and wake the feeder if it waits for room. */
  private settle (): void {
    for (let i = this.sent.length - 1; i >= 0; i--) {
      const s = this.sent[i]!
      if (!s.hashed || !s.written) continue
      this.slots.give(s.memory)
      this.sent.splice(i, 1)
    }
    if (this.sent.length < this.window) this.wake()
  }

  private forgetHashing (): void {
    for (const s of this.sent) s.hashed = true
    this.settle()
  }

  private fail (err: Error): void {
    this.failed ??= err
    this.wake()
    for (const p of this.pending.splice(0)) p.reject(err)
  }

  private wake (): void {
    const wake = this.waiting
    this.waiting = undefined
    wake?.()
  }
}

export class HashPool {
  private readonly workers: PooledWorker[] = []
  private readonly slots = new Slots()
  private readonly size: number

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
    const least = this.workers.reduce<PooledWorker | undefined>((best, w) => !best || w.jobs.size < best.jobs.size ? w : best, undefined)
    const worker = !least || (least.jobs.size > 0 && this.workers.length < this.size) ? this.spawn() : least
    return new WorkerJob(worker, this.slots, pieceLengths, opts)
  }

  async close (): Promise<void> {
    const all = this.workers.splice(0)
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
