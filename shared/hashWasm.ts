/**
 * hash-wasm behind the shared Hasher interface: what the browser hashes with (WebCrypto cannot
 * stream). Works in Node too, so a unit test can compare it with node:crypto.
 */
import { createSHA1, createSHA256, type IHasher } from 'hash-wasm'
import type { Hasher, HasherFactory } from './torrent.ts'

/**
 * A HasherFactory over ONE wasm instance, re-initialised on every call. Creating an instance is
 * async and costs a WebAssembly instantiation, while a factory must be sync; every user here
 * (PieceHasher, infoHashOf, buildTorrent) finishes one hasher before it asks for the next, so one
 * instance is enough. Using a hasher after a newer one was made throws instead of mixing states.
 */
export function reusedHasherFactory (instance: IHasher): HasherFactory {
  let generation = 0
  return (): Hasher => {
    const mine = ++generation
    instance.init()
    const live = (): void => {
      if (mine !== generation) throw new Error('this hasher was superseded: its factory shares one wasm instance, one live hasher at a time')
    }
    return {
      update: data => { live(); instance.update(data) },
      // 'binary' returns a copy, so the digest survives the next init().
      digest: () => { live(); return instance.digest('binary') }
    }
  }
}

export const wasmSha1 = async (): Promise<HasherFactory> => reusedHasherFactory(await createSHA1())
export const wasmSha256 = async (): Promise<HasherFactory> => reusedHasherFactory(await createSHA256())
