/**
 * Runs in a worker thread (started through hashWorker.mjs): ContentHashers fed by messages, one
 * per job id. A savable hasher is made asynchronously (hash-wasm), so each job's messages are
 * taken in order on a promise chain; a job that fails says so and leaves the others alone.
 */
import { parentPort } from 'node:worker_threads'
import { ContentHasher, type PieceCheckpoint } from './contentHasher.ts'
import type { HashState } from './hashState.ts'

export type HashRequest =
  | { type: 'start', id: number, pieceLengths: number[], resume?: PieceCheckpoint, savable?: { from?: HashState } }
  | { type: 'chunk', id: number, buffer: ArrayBuffer, length: number }
  | { type: 'checkpoint', id: number }
  | { type: 'state', id: number }
  | { type: 'finish', id: number }
  | { type: 'drop', id: number }

const port = parentPort!
const jobs = new Map<number, Promise<ContentHasher>>()

/** Run `step` on the job once its earlier messages are done; a failure ends the job and is told once. */
function then (id: number, step: (hasher: ContentHasher) => void): void {
  const job = jobs.get(id)
  if (!job) return
  const next = job.then(hasher => { step(hasher); return hasher })
  jobs.set(id, next)
  next.catch((err: Error) => {
    if (jobs.get(id) !== next) return
    jobs.delete(id)
    port.postMessage({ type: 'failed', id, message: err.message })
  })
}

port.on('message', (msg: HashRequest) => {
  const { id } = msg
  switch (msg.type) {
    case 'start':
      jobs.set(id, msg.savable
        ? ContentHasher.savable(msg.pieceLengths[0]!, msg.savable.from)
        : Promise.resolve(new ContentHasher(msg.pieceLengths, msg.resume)))
      then(id, () => {})
      break
    case 'chunk':
      // The buffer goes back for reuse whatever happens to the job: no allocation per batch, no garbage piling up.
      if (!jobs.has(id)) port.postMessage({ type: 'ack', id, buffer: msg.buffer }, [msg.buffer])
      then(id, hasher => {
        hasher.update(new Uint8Array(msg.buffer, 0, msg.length))
        port.postMessage({ type: 'ack', id, buffer: msg.buffer }, [msg.buffer])
      })
      break
    case 'checkpoint':
      then(id, hasher => { port.postMessage({ type: 'checkpoint', id, checkpoint: hasher.checkpoint() }) })
      break
    case 'state':
      then(id, hasher => { port.postMessage({ type: 'state', id, state: hasher.state() }) })
      break
    case 'finish':
      then(id, hasher => {
        port.postMessage({ type: 'result', id, result: hasher.finish() })
        jobs.delete(id)
      })
      break
    case 'drop':
      jobs.delete(id)
  }
})
port.postMessage({ type: 'ready' })
