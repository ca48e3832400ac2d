/** Runs in a worker thread (started through hashWorker.mjs): ContentHashers fed by messages, one per job id. */
import { parentPort } from 'node:worker_threads'
import { ContentHasher, type PieceCheckpoint } from './contentHasher.ts'

export type HashRequest =
  | { type: 'start', id: number, pieceLengths: number[], resume?: PieceCheckpoint }
  | { type: 'chunk', id: number, buffer: ArrayBuffer, length: number }
  | { type: 'checkpoint', id: number }
  | { type: 'finish', id: number }
  | { type: 'drop', id: number }

const jobs = new Map<number, ContentHasher>()
parentPort!.on('message', (msg: HashRequest) => {
  const { id } = msg
  switch (msg.type) {
    case 'start':
      jobs.set(id, new ContentHasher(msg.pieceLengths, msg.resume))
      break
    case 'chunk':
      jobs.get(id)?.update(new Uint8Array(msg.buffer, 0, msg.length))
      // Hand the buffer back for reuse: no allocation per batch, no garbage piling up.
      parentPort!.postMessage({ type: 'ack', id, buffer: msg.buffer }, [msg.buffer])
      break
    case 'checkpoint':
      parentPort!.postMessage({ type: 'checkpoint', id, checkpoint: jobs.get(id)!.checkpoint() })
      break
    case 'finish':
      parentPort!.postMessage({ type: 'result', id, result: jobs.get(id)!.finish() })
      jobs.delete(id)
      break
    case 'drop':
      jobs.delete(id)
  }
})
parentPort!.postMessage({ type: 'ready' })
