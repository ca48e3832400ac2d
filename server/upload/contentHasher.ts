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

export class ContentHasher {
  private readonly sha = sha256()
  private readonly pieceHashers: PieceHasher[]
  private bytes = 0

  constructor (pieceLengths: number[]) {
    this.pieceHashers = pieceLengths.map(len => new PieceHasher(len, sha1))
  }

  update (chunk: Uint8Array): void {
    this.bytes += chunk.length
    this.sha.update(chunk)
    for (const p of this.pieceHashers) p.update(chunk)
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
