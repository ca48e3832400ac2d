/**
 * One pass over the bytes: SHA-256 (the mediaId) and the torrent's SHA-1 pieces together.
 * The piece length depends on the file size, which a streamed upload may not know up front,
 * so pieces are hashed for each likely length (usually exactly one); if none of them turns
 * out right, `pieces()` returns undefined and the caller reads the stored file once more.
 */
import type { Readable } from 'node:stream'
import { PieceHasher, pieceLength } from '../../shared/torrent.ts'
import { sha1, sha256 } from './nodeHashers.ts'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export class ContentHasher {
  private readonly sha = sha256()
  private readonly pieceHashers: PieceHasher[]
  bytes = 0

  /** `sizeBounds`: what is known of the final size (exact, or a small range), if anything. */
  constructor (sizeBounds?: { min: number, max: number }) {
    const lengths = new Set<number>()
    if (sizeBounds) {
      lengths.add(pieceLength(Math.max(0, sizeBounds.min)))
      lengths.add(pieceLength(sizeBounds.max))
    }
    this.pieceHashers = [...lengths].map(len => new PieceHasher(len, sha1))
  }

  update (chunk: Uint8Array): void {
    this.bytes += chunk.length
    this.sha.update(chunk)
    for (const p of this.pieceHashers) p.update(chunk)
  }

  mediaId (): string {
    return toHex(this.sha.digest())
  }

  /** The piece hashes at the length the rule picks for the final size, if they were computed. */
  pieces (): { pieceLength: number, pieces: Uint8Array } | undefined {
    const wanted = pieceLength(this.bytes)
    const hasher = this.pieceHashers.find(p => p.pieceLength === wanted)
    return hasher ? { pieceLength: wanted, pieces: hasher.digest() } : undefined
  }
}

/** Piece hashes of stored bytes: the repair path (no size was known up front, or a lost .torrent). */
export async function hashPieces (bytes: Readable, size: number): Promise<{ pieceLength: number, pieces: Uint8Array }> {
  const len = pieceLength(size)
  const hasher = new PieceHasher(len, sha1)
  for await (const chunk of bytes) hasher.update(chunk as Buffer)
  return { pieceLength: len, pieces: hasher.digest() }
}
