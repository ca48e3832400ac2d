/** A stored file read by position, opened on first use, for the seeder's chunk store. */
import fs from 'node:fs/promises'
import type { ByteSource } from '../../shared/readOnlyChunkStore.ts'

export function fileByteSource (file: string): ByteSource {
  let handle: Promise<fs.FileHandle> | undefined
  return {
    async readAt (offset, length) {
      handle ??= fs.open(file, 'r')
      const buf = Buffer.allocUnsafe(length)
      const { bytesRead } = await (await handle).read(buf, 0, length, offset)
      if (bytesRead !== length) throw new Error(`short read at ${offset}: ${bytesRead} of ${length} bytes`)
      return buf
    },
    async close () {
      const h = handle
      handle = undefined
      if (h) await (await h).close()
    }
  }
}
