/**
 * A public record's Arweave data item, checked, made and signed off the main thread
 * (shared/oipDataItem.ts): arbundles' prebuilt browser bundle, which this worker alone loads,
 * takes about two seconds of a core to start here, which would freeze the page.
 *
 *   in:  { record, signature, privateKey }
 *   out: { item: Uint8Array } | { error: string }
 */
import { createData } from '@dha-team/arbundles/bundle'
import { signOipDataItem } from '../../shared/oipDataItem.ts'
import type { OipMediaRecord } from '../../shared/record.ts'

export interface ItemRequest { record: OipMediaRecord, signature: string, privateKey: Uint8Array }
export type ItemReply = { item: Uint8Array } | { error: string }

const scope = self as unknown as DedicatedWorkerGlobalScope

scope.onmessage = async (e: MessageEvent<ItemRequest>) => {
  const { record, signature, privateKey } = e.data
  try {
    const item = await signOipDataItem(createData, record, signature, privateKey)
    scope.postMessage({ item } satisfies ItemReply, [item.buffer])
  } catch (err) {
    scope.postMessage({ error: (err as Error).message } satisfies ItemReply)
  }
}
