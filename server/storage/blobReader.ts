/** A BlobReader over a store's own positional read: the checks and the readAt every store shares. */
import type { BlobReader } from './blobStore.ts'

type ReadInto = BlobReader['readInto']

export function blobReader (read: ReadInto, close: () => Promise<void>): BlobReader {
  const readInto: ReadInto = async (buffer, position) => {
    // -1 would read from a file descriptor's current offset instead.
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`position ${position} is not a byte offset`)
    return await read(buffer, position)
  }
  return {
    readInto,
    // A read may give less than asked (a remote store's next chunk): read on until it is all there.
    async readAt (offset, length) {
      const buf = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const n = await readInto(buf.subarray(got), offset + got)
        if (n === 0) throw new Error(`short read at ${offset}: ${got} of ${length} bytes`)
        got += n
      }
      return buf
    },
    close
  }
}
