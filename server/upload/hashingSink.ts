/**
 * Where an upload's bytes go, streamed or resumable: each batch of chunks is written to disk and
 * fed to the hash job at the same time, in one stream step (each extra step cost the main thread
 * time on every 64 KiB chunk). The hash job may trail behind the disk by its window; it is
 * waited for only before it is given more.
 */
import { Writable } from 'node:stream'
import type { HashJob } from './hashPool.ts'

/** Bytes the sink takes in before the stream feeding it waits. */
const BUFFER_BYTES = 4 * 1024 * 1024

/** The hash job's flow control; a resumable upload carries it from one request to the next. */
export interface HashFlow {
  /** Resolves when the job has room again; undefined when it has room now. */
  wait?: Promise<void>
}

export interface SinkHooks {
  /** Before a batch is written: throw to refuse it (an upload's declared length). */
  check?: (bytes: number) => void
  /** The batch is on disk and with the hash job. */
  stored?: (bytes: number) => void
  /** A batch failed: the hash job may have had part of it, so it no longer matches the disk. */
  failed?: () => void
  flow?: HashFlow
}

export class HashingSink extends Writable {
  private writing: Promise<void> = Promise.resolve()

  constructor (job: HashJob, write: (buffers: Buffer[]) => Promise<void>, hooks: SinkHooks = {}) {
    const flow = hooks.flow ?? {}
    super({
      highWaterMark: BUFFER_BYTES,
      writev: (chunks, cb) => {
        const buffers = chunks.map(c => c.chunk as Buffer)
        const bytes = buffers.reduce((sum, b) => sum + b.length, 0)
        try {
          hooks.check?.(bytes)
        } catch (err) {
          cb(err as Error)
          return
        }
        const hashing = (async () => {
          for (const b of buffers) {
            if (flow.wait) await flow.wait
            flow.wait = job.update(b) ?? undefined
          }
        })()
        this.writing = Promise.all([write(buffers), hashing]).then(() => hooks.stored?.(bytes), err => {
          hooks.failed?.()
          throw err
        })
        this.writing.then(() => cb(), cb)
      }
    })
  }

  /** Once the batch in flight has settled (after a failure: then what is on disk is known). */
  async settled (): Promise<void> {
    await this.writing.catch(() => {})
  }
}
