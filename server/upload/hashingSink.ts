/**
 * Where an upload's bytes go, streamed or resumable: into the hash job, which batches them,
 * writes each batch to the file and then hashes it (see hashPool.ts). The stream ends once
 * every byte is written. The hashing may trail behind by the job's window; it is waited for
 * only before the job is given more, so the end of a request does not wait for the hashing.
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

export class HashingSink extends Writable {
  private feeding: Promise<void> = Promise.resolve()

  /** `check`: before bytes are taken, throw to refuse them (an upload's declared length). */
  constructor (job: HashJob, { check, flow = {} }: { check?: (bytes: number) => void, flow?: HashFlow } = {}) {
    super({
      highWaterMark: BUFFER_BYTES,
      writev: (chunks, cb) => {
        this.feeding = (async () => {
          check?.(chunks.reduce((sum, c) => sum + (c.chunk as Buffer).length, 0))
          for (const { chunk } of chunks) {
            if (flow.wait) await flow.wait
            flow.wait = job.update(chunk as Buffer) ?? undefined
          }
        })()
        this.feeding.then(() => cb(), cb)
      },
      final: cb => { job.flush().then(() => cb(), cb) }
    })
  }

  /** Once the bytes taken are all with the job (after a failed stream: then the job has them all). */
  async settled (): Promise<void> {
    await this.feeding.catch(() => {})
  }
}
