/**
 * A public record's Arweave data item, signed in this browser (shared/oipDataItem.ts) with
 * arbundles' prebuilt browser bundle. Imported only when a record is published to Arweave, so
 * its ~240 KiB (gzip) load in a chunk of their own, never with the app.
 */
import { createData } from '@dha-team/arbundles/bundle'
import { signOipDataItem } from '../../shared/oipDataItem.ts'
import type { OipMediaRecord } from '../../shared/record.ts'

export const signArweaveItem = async (record: OipMediaRecord, signature: string, privateKey: Uint8Array): Promise<Uint8Array> =>
  await signOipDataItem(createData, record, signature, privateKey)
