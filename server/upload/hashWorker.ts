/** Runs in a worker thread (started through hashWorker.mjs): a ContentHasher fed by messages. */
import { parentPort } from 'node:worker_threads'
import { ContentHasher } from './contentHasher.ts'

export type HashRequest =
  | { type: 'start', pieceLengths: number[] }
  | { type: 'chunk', buffer: ArrayBuffer, length: number }
  | { type: 'finish' }

let hasher: ContentHasher | undefined
parentPort!.on('message', (msg: HashRequest) => {
  if (msg.type === 'start') {
    hasher = new ContentHasher(msg.pieceLengths)
  } else if (msg.type === 'chunk') {
    hasher!.update(new Uint8Array(msg.buffer, 0, msg.length))
    // Hand the buffer back for reuse: no allocation per batch, no garbage piling up.
    parentPort!.postMessage({ type: 'ack', buffer: msg.buffer }, [msg.buffer])
  } else {
    parentPort!.postMessage({ type: 'result', result: hasher!.finish() })
    hasher = undefined
  }
})
parentPort!.postMessage({ type: 'ready' })
