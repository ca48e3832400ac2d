/** node:crypto behind the shared Hasher interface (native hashing is ~3× hash-wasm's speed in Node). */
import { createHash } from 'node:crypto'
import type { Hasher, HasherFactory } from '../../shared/torrent.ts'

const factory = (algorithm: string): HasherFactory => (): Hasher => {
  const hash = createHash(algorithm)
  return {
    update: data => { hash.update(data) },
    digest: () => hash.digest()
  }
}

export const sha1: HasherFactory = factory('sha1')
export const sha256: HasherFactory = factory('sha256')
