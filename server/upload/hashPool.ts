/**
 * Hashing off the main thread. The main thread parses the multipart body and writes the file;
 * a worker hashes the same bytes in parallel (SHA-256 + SHA-1 pieces cost as much CPU as the
 * parsing). Bytes go over in 1 MiB batches, copied once and transferred, at most 4 in flight;
 * the worker hands each buffer back, so a job uses the same 5 MiB from start to end and a slow
 * hasher slows the upload instead of piling up data.
 * When every worker is busy, an upload hashes on the main thread as before.
 */
import { Worker } from 'node:worker_threads'
import { ContentHasher, type ContentHashes } from './contentHasher.ts'

const BATCH = 1 << 20
const MAX_IN_FLIGHT = 4
const ENTRY = new URL('./hashWorker.mjs', import.meta.url)

/** Hashes an upload's bytes; `update` returns a promise when the caller should wait. */
export interface HashJob {
  update (chunk: Uint8Array): void | Promise<void>
  finish (): Promise<ContentHashes>
}

class InlineJob implements HashJob {
  private readonly hasher: ContentHasher
  constructor (pieceLengths: number[]) { this.hasher = new ContentHasher(pieceLengths) }
  update (chunk: Uint8Array): void { this.hasher.update(chunk) }
  async finish (): Promise<ContentHashes> { return this.hasher.finish() }
}

interface PooledWorker {
  worker: Worker
  ready: Promise<void>
  busy: boolean
}

class WorkerJob implements HashJob {
  private batch = new Uint8Array(BATCH)
  private readonly spare: ArrayBuffer[] = []
  private filled = 0
  private inFlight = 0
  private waiting: (() => void) | undefined
  private failed: Error | undefined
  private readonly done: Promise<ContentHashes>

  constructor (private readonly pooled: PooledWorker, pieceLengths: number[], private readonly release: () => void) {
    const { worker } = pooled
    let resolve!: (r: ContentHashes) => void
    let reject!: (e: Error) => void
    this.done = new Promise((res, rej) => { resolve = res; reject = rej })
    this.done.catch(() => {})
    const onMessage = (msg: { type: string, buffer?: ArrayBuffer, result?: ContentHashes }): void => {
      if (msg.type === 'ack') {
        this.spare.push(msg.buffer!)
        this.inFlight--
        const wake = this.waiting
        this.waiting = undefined
        wake?.()
      } else if (msg.type === 'result') {
        cleanup()
        resolve(msg.result!)
      }
    }
    const onError = (err: Error): void => {
      cleanup()
      this.failed = err
      this.waiting?.()
      reject(err)
    }
    const cleanup = (): void => {
      worker.off('message', onMessage)
      worker.off('error', onError)
      this.release()
    }
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.postMessage({ type: 'start', pieceLengths })
  }

  update (chunk: Uint8Array): void | Promise<void> {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(BATCH - this.filled, chunk.length - offset)
      this.batch.set(chunk.subarray(offset, offset + take), this.filled)
      this.filled += take
      offset += take
      if (this.filled === BATCH) this.send()
    }
    if (this.failed) throw this.failed
    if (this.inFlight >= MAX_IN_FLIGHT) return new Promise(resolve => { this.waiting = resolve })
  }

  async finish (): Promise<ContentHashes> {
    if (this.filled > 0) this.send()
    this.pooled.worker.postMessage({ type: 'finish' })
    return await this.done
  }

  private send (): void {
    const buffer = this.batch.buffer
    this.pooled.worker.postMessage({ type: 'chunk', buffer, length: this.filled }, [buffer])
    this.inFlight++
    this.batch = new Uint8Array(this.spare.pop() ?? new ArrayBuffer(BATCH))
    this.filled = 0
  }
}

export class HashPool {
  private readonly workers: PooledWorker[] = []
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

  job (pieceLengths: number[]): HashJob {
    const free = this.workers.find(w => !w.busy) ?? (this.workers.length < this.size ? this.spawn() : undefined)
    if (!free) return new InlineJob(pieceLengths)
    free.busy = true
    return new WorkerJob(free, pieceLengths, () => { free.busy = false })
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
    const pooled: PooledWorker = { worker, ready, busy: false }
    // A worker that dies is dropped; the next job starts a new one.
    worker.on('exit', () => {
      const i = this.workers.indexOf(pooled)
      if (i >= 0) this.workers.splice(i, 1)
    })
    this.workers.push(pooled)
    return pooled
  }
}
