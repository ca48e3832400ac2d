/**
 * One pass over the bytes: SHA-256 (the mediaId) and the torrent's SHA-1 pieces together.
 * The piece length depends on the file size, which a streamed upload may not know up front,
 * so pieces are hashed for each likely length (usually exactly one); if none of them turns
 * out right, `pieces` is undefined and the caller reads the stored file once more.
 */
import type { Readable } from 'node:stream'
import { PieceHasher, pieceLength } from '../../shared/torrent.ts'
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
 * The whole pieces of a resumable upload hashed so far. SHA-256 has no such checkpoint (node's
 * native hash cannot save its state, and hash-wasm's that can is 5× slower on every byte), so a
 * resumed hasher reads the bytes from the start once more, but skips the SHA-1 of these pieces.
 */
export interface PieceCheckpoint {
  pieceLength: number
  /** Concatenated 20-byte hashes of the first pieces. */
  pieces: Uint8Array
}

export class ContentHasher {
  private readonly sha = sha256()
  private readonly pieceHashers: PieceHasher[]
  /** Bytes the piece hashers skip because the checkpoint covers them. */
  private readonly skip: number
  private bytes = 0

  constructor (pieceLengths: number[], resume?: PieceCheckpoint) {
    this.pieceHashers = resume
      ? [new PieceHasher(resume.pieceLength, sha1, resume.pieces)]
      : pieceLengths.map(len => new PieceHasher(len, sha1))
    this.skip = resume ? resume.pieces.length / 20 * resume.pieceLength : 0
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
