/** A stored file read by position (BlobReader), opened on the first read. */
import fs from 'node:fs/promises'
import { notFound } from '../../shared/errors.ts'
import { blobReader } from './blobReader.ts'
import type { BlobReader } from './blobStore.ts'

/** Open a stored file for reading; one that is not there is not found (the error names no path). */
export async function openStored (file: () => string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file(), 'r')
  } catch (err) {
    throw isAbsent(err) ? notFound() : err
  }
}

/** The error says the file (or a folder on its path) is not there. */
export function isAbsent (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/** `file` is asked for on the first read, so an id it refuses fails that read, not the caller. */
export function fsBlobReader (file: () => string): BlobReader {
  let handle: Promise<fs.FileHandle> | undefined
  return blobReader(async (buffer, position) => {
    handle ??= openStored(file)
    return (await (await handle).read(buffer, 0, buffer.length, position)).bytesRead
  }, async () => {
    const h = handle
    handle = undefined
    if (h) await (await h.catch(() => undefined))?.close()
  })
}
