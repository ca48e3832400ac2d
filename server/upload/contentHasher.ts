/**
 * One pass over the bytes: SHA-256 (the mediaId) and the torrent's SHA-1 pieces together.
 * The piece length depends on the file size, which a streamed upload may not know up front,
 * so pieces are hashed for each likely length (usually exactly one); if none of them turns
 * out right, `pieces` is undefined and the caller reads the stored file once more.
 */
import type { Readable } from 'node:stream'
import { createSHA1, createSHA256, type IHasher } from 'hash-wasm'
import { reusedHasherFactory } from '../../shared/hashWasm.ts'
import { PieceHasher, pieceLength, type Hasher } from '../../shared/torrent.ts'
import type { HashState } from './hashState.ts'
import { sha1, sha256 } from './nodeHashers.ts'

export interface ContentHashes {
  bytes: number
  mediaId: string
  /** The piece hashes at the length the rule picks for `bytes`, if they were computed. */
  pieces?: { pieceLength: number, pieces: Uint8Array }
}

/** What the request tells about the final size (exact, or a small range) → piece lengths to hash. */
export const pieceLengthsFor = (sizeBounds?: { min: number, max: number }): number[] =>
  sizeBounds ? [...new Set([pieceLength(Math.max(0, sizeBounds.min)), pieceLength(sizeBounds.max)])] : []

/**
 * The whole pieces of a resumable upload hashed so far. node:crypto's SHA-256 cannot save its
 * state, so a hasher resumed from this reads the bytes from the start once more, but skips the
 * SHA-1 of these pieces. (A savable hasher's HashState needs no such read, but hash-wasm's
 * SHA-256 is several times slower on every byte: it is used where uploads move between nodes.)
 */
export interface PieceCheckpoint {
  pieceLength: number
  /** Concatenated 20-byte hashes of the first pieces. */
  pieces: Uint8Array
}

/** hash-wasm instances a savable hasher hashes with, and the state it goes on from. */
interface Savable {
  wasm: { sha256: IHasher, sha1: IHasher }
  from?: HashState
}

export class ContentHasher {
  private readonly sha: Hasher
  private readonly pieceHashers: PieceHasher[]
  /** Bytes the piece hashers skip because the checkpoint covers them. */
  private readonly skip: number
  private bytes: number
  /** The hash-wasm instances of a savable hasher. */
  private readonly wasm: Savable['wasm'] | undefined

  /** `savable` (see ContentHasher.savable): one piece length, and no `resume`. */
  constructor (pieceLengths: number[], resume?: PieceCheckpoint, savable?: Savable) {
    this.wasm = savable?.wasm
    if (savable) {
      const { wasm, from } = savable
      const [len] = pieceLengths
      if (len === undefined || (from && from.pieceLength !== len)) throw new Error('a savable hasher hashes pieces of one length, its saved state\'s')
      const whole = from ? from.pieces.length / 20 * len : 0
      this.pieceHashers = [new PieceHasher(len, reusedHasherFactory(wasm.sha1), from?.pieces, from ? from.bytes - whole : 0)]
      if (from) {
        wasm.sha256.load(from.sha256)
        // After the piece hasher's first init(), which would undo it.
        wasm.sha1.load(from.piece)
      }
      this.sha = { update: data => { wasm.sha256.update(data) }, digest: () => wasm.sha256.digest('binary') }
      this.bytes = from?.bytes ?? 0
    } else {
      this.sha = sha256()
      this.pieceHashers = resume
        ? [new PieceHasher(resume.pieceLength, sha1, resume.pieces)]
        : pieceLengths.map(len => new PieceHasher(len, sha1))
      this.bytes = 0
    }
    this.skip = resume && !savable ? resume.pieces.length / 20 * resume.pieceLength : 0
  }

  /** A hasher whose state can be saved (state()) and go on from it here, in another process or on another node. */
  static async savable (pieceLength: number, from?: HashState): Promise<ContentHasher> {
    return new ContentHasher([pieceLength], undefined, { wasm: { sha256: await createSHA256(), sha1: await createSHA1() }, ...(from ? { from } : {}) })
  }

  update (chunk: Uint8Array): void {
    const start = this.bytes
    this.bytes += chunk.length
    this.sha.update(chunk)
    if (this.bytes <= this.skip) return
    const fresh = start >= this.skip ? chunk : chunk.subarray(this.skip - start)
    for (const p of this.pieceHashers) p.update(fresh)
  }

  /** Where a resumed hasher could start its piece hashing: the whole pieces so far. */
  checkpoint (): PieceCheckpoint | undefined {
    const [hasher] = this.pieceHashers
    return hasher && this.pieceHashers.length === 1 ? { pieceLength: hasher.pieceLength, pieces: hasher.completed() } : undefined
  }

  /** A savable hasher's state after every byte so far. */
  state (): HashState {
    if (!this.wasm) throw new Error('this hasher cannot save its state: make it with ContentHasher.savable')
    const [hasher] = this.pieceHashers
    return { bytes: this.bytes, pieceLength: hasher!.pieceLength, pieces: hasher!.completed(), sha256: this.wasm.sha256.save(), piece: this.wasm.sha1.save() }
  }

  /** Call once, after the last byte. */
  finish (): ContentHashes {
    const wanted = pieceLength(this.bytes)
    const hasher = this.pieceHashers.find(p => p.pieceLength === wanted)
    return {
      bytes: this.bytes,
      mediaId: Buffer.from(this.sha.digest()).toString('hex'),
      ...(hasher ? { pieces: { pieceLength: wanted, pieces: hasher.digest() } } : {})
    }
  }
}

/** Piece hashes of stored bytes: the repair path (no size was known up front, or a lost .torrent). */
export async function hashPieces (bytes: Readable, size: number): Promise<{ pieceLength: number, pieces: Uint8Array }> {
  const len = pieceLength(size)
  const hasher = new PieceHasher(len, sha1)
  for await (const chunk of bytes) hasher.update(chunk as Buffer)
  return { pieceLength: len, pieces: hasher.digest() }
}
