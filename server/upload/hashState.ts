/**
 * A resumable upload's hashing as it stands after its acknowledged bytes, saved in its row so the
 * next request goes on from there on any node, reading none of the bytes again. node:crypto's
 * hashes cannot save their state, hash-wasm's can (ContentHasher.savable); this is what it saved,
 * as one binary value: bytes (8), piece length (4), SHA-256 state length (4) and state, the piece
 * SHA-1's state length (4) and state, then the whole pieces' hashes.
 */
export interface HashState {
  /** Bytes hashed. */
  bytes: number
  pieceLength: number
  /** The 20-byte hashes of the whole pieces so far. */
  pieces: Uint8Array
  /** hash-wasm's SHA-256 state after `bytes`. */
  sha256: Uint8Array
  /** hash-wasm's SHA-1 state within the piece after the whole ones. */
  piece: Uint8Array
}

export function encodeHashState (state: HashState): Uint8Array {
  const out = new Uint8Array(20 + state.sha256.length + state.piece.length + state.pieces.length)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(state.bytes))
  view.setUint32(8, state.pieceLength)
  view.setUint32(12, state.sha256.length)
  out.set(state.sha256, 16)
  let at = 16 + state.sha256.length
  view.setUint32(at, state.piece.length)
  out.set(state.piece, at + 4)
  at += 4 + state.piece.length
  out.set(state.pieces, at)
  return out
}

/** The state saved by encodeHashState; undefined for anything else (a row written by another version). */
export function decodeHashState (bytes: Uint8Array): HashState | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 20) return undefined
  const shaLength = view.getUint32(12)
  if (16 + shaLength + 4 > bytes.length) return undefined
  const pieceAt = 16 + shaLength
  const pieceStateLength = view.getUint32(pieceAt)
  const piecesAt = pieceAt + 4 + pieceStateLength
  if (piecesAt > bytes.length || (bytes.length - piecesAt) % 20 !== 0) return undefined
  return {
    bytes: Number(view.getBigUint64(0)),
    pieceLength: view.getUint32(8),
    sha256: bytes.slice(16, pieceAt),
    piece: bytes.slice(pieceAt + 4, piecesAt),
    pieces: bytes.slice(piecesAt)
  }
}
