/**
 * A public record's Arweave data item, signed by the owner's key in a worker of its own
 * (web/workers/arweaveItem.worker.ts), which alone loads arbundles (~240 KiB gzip): the app
 * never downloads it unless a record is published to Arweave.
 */
import type { OipMediaRecord } from '../../shared/record.ts'
import type { ItemReply, ItemRequest } from '../workers/arweaveItem.worker.ts'

export function signArweaveItem (record: OipMediaRecord, signature: string, privateKey: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('../workers/arweaveItem.worker.ts', import.meta.url), { type: 'module', name: 'arweave item' })
    const done = (): void => worker.terminate()
    worker.onmessage = (e: MessageEvent<ItemReply>) => {
      done()
      if ('item' in e.data) resolve(e.data.item)
      else reject(new Error(e.data.error))
    }
    worker.onerror = e => {
      done()
      reject(new Error(`The signing worker failed: ${e.message}`))
    }
    worker.postMessage({ record, signature, privateKey } satisfies ItemRequest)
  })
}
