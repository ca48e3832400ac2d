/**
 * The torrent rules both sides follow, so a file hashed in the browser and the same file
 * ingested by the server get the same info dict and so the same infoHash (one swarm).
 * Pure: hashing is injected (node:crypto on the server, hash-wasm in the browser).
 */
import bencode from 'bencode'
import pieceLengthFor from 'piece-length'
import { encode as encodeMagnet } from 'magnet-uri'

export interface Hasher {
  update (data: Uint8Array): void
  digest (): Uint8Array
}
export type HasherFactory = () => Hasher

/** create-torrent's cap: bigger pieces make partial downloads and verification coarse. */
export const MAX_PIECE_LENGTH = 4 * 1024 * 1024

/** create-torrent's rule (the `piece-length` package): ~1000 pieces, 16 KiB to 4 MiB. */
export const pieceLength = (fileSize: number): number => Math.min(pieceLengthFor(fileSize), MAX_PIECE_LENGTH)

const MAX_NAME_BYTES = 200
const encoder = new TextEncoder()

/**
 * The torrent's file name: the uploaded name without any path, control characters or
 * characters that are unsafe in a file name, at most 200 bytes of UTF-8. Never empty.
 */
export function torrentName (originalName: string): string {
  const base = originalName.split(/[/\\]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  let name = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').trim().replace(/^\.+/, '')
  while (encoder.encode(name).length > MAX_NAME_BYTES) name = Array.from(name).slice(0, -1).join('')
  return name === '' ? 'file' : name
}

/**
 * SHA-1 of each piece, fed the bytes in order in chunks of any size: one pass, no buffering
 * beyond the chunk at hand.
 */
export class PieceHasher {
  readonly pieceLength: number
  private readonly sha1: HasherFactory
  private current: Hasher
  private filled = 0
  private readonly digests: Uint8Array[] = []

  /**
   * `done`: the hashes of the first pieces, already known (a resumed upload's checkpoint).
   * `filled`: bytes of the next piece that the factory's first hasher holds already (a saved
   * state its caller loads into it).
   */
  constructor (pieceLength: number, sha1: HasherFactory, done?: Uint8Array, filled = 0) {
    this.pieceLength = pieceLength
    this.sha1 = sha1
    this.current = sha1()
    this.filled = filled
    for (let i = 0; done && i < done.length; i += 20) this.digests.push(done.slice(i, i + 20))
  }

  /** The hashes of the whole pieces so far (a checkpoint to resume from). */
  completed (): Uint8Array {
    return concat(this.digests)
  }

  update (chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(this.pieceLength - this.filled, chunk.length - offset)
      this.current.update(take === chunk.length ? chunk : chunk.subarray(offset, offset + take))
      this.filled += take
      offset += take
      if (this.filled === this.pieceLength) {
        this.digests.push(this.current.digest())
        this.current = this.sha1()
        this.filled = 0
      }
    }
  }

  /** The concatenated 20-byte piece hashes; call once, after the last byte. */
  digest (): Uint8Array {
    if (this.filled > 0) this.digests.push(this.current.digest())
    return concat(this.digests)
  }
}

function concat (digests: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(digests.length * 20)
  digests.forEach((d, i) => out.set(d, i * 20))
  return out
}

export interface InfoInput {
  name: string
  length: number
  pieceLength: number
  pieces: Uint8Array
  /**
   * Private media: BEP 27 `private` flag plus a per-record secret salt, so the infoHash cannot
   * be computed from the content (or from the owner's public key).
   */
  privateSalt?: string
}

export const isTorrentSalt = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)

export interface TorrentTransport {
  /** Tracker URLs, the first is the primary one. */
  announce: string[]
  /** BEP 19 web seed URLs. */
  urlList: string[]
  /**
   * Where the .torrent itself can be fetched (a magnet's `xs`): a client that has only the magnet
   * gets the metadata without a peer, e.g. from a mirror while the server is down.
   */
  sources?: string[]
}

export interface BuiltTorrent {
  infoHash: string
  /** The bencoded .torrent file. */
  torrentFile: Uint8Array
}

const toHex = (bytes: Uint8Array): string => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')

/** The info dict: the keys create-torrent writes for a single file, plus the private pair. */
export function infoDict (input: InfoInput): Record<string, unknown> {
  if (input.pieces.length !== Math.ceil(input.length / input.pieceLength) * 20 && input.length > 0) {
    throw new Error(`pieces do not match length ${input.length} at piece length ${input.pieceLength}`)
  }
  const info: Record<string, unknown> = {
    length: input.length,
    name: input.name,
    'piece length': input.pieceLength,
    pieces: input.pieces
  }
  if (input.privateSalt !== undefined) {
    if (!isTorrentSalt(input.privateSalt)) throw new Error('a private torrent salt is 64 lowercase hex characters')
    info.private = 1
    info['x-oip-salt'] = input.privateSalt
  }
  return info
}

/**
 * The same pieces under another name, optionally private: the info dict a browser builds for
 * these bytes with its own file name (and salt), so both sides seed one infoHash.
 */
export function renamedInfo (info: Record<string, unknown>, name: string, privateSalt?: string): Record<string, unknown> {
  return infoDict({
    name,
    length: info.length as number,
    pieceLength: info['piece length'] as number,
    pieces: info.pieces as Uint8Array,
    ...(privateSalt !== undefined ? { privateSalt } : {})
  })
}

/** Encode a torrent from a ready info dict (for the private variant built from a stored torrent). */
export function torrentFromInfo (info: Record<string, unknown>, transport: TorrentTransport, sha1: HasherFactory): BuiltTorrent {
  return { infoHash: infoHashOf(info, sha1), torrentFile: encodeTorrent(info, transport) }
}

/** infoHash = SHA-1 of the bencoded info dict, lowercase hex. */
export const infoHashOf = (info: Record<string, unknown>, sha1: HasherFactory): string => {
  const h = sha1()
  h.update(bencode.encode(info))
  return toHex(h.digest())
}

function encodeTorrent (info: Record<string, unknown>, transport: TorrentTransport, createdAt?: Date): Uint8Array {
  const torrent: Record<string, unknown> = { info, 'created by': 'OIP Media Seeder' }
  if (createdAt) torrent['creation date'] = Math.floor(createdAt.getTime() / 1000)
  if (transport.announce.length > 0) {
    torrent.announce = transport.announce[0]
    torrent['announce-list'] = transport.announce.map(url => [url])
  }
  if (transport.urlList.length > 0) torrent['url-list'] = transport.urlList
  return bencode.encode(torrent)
}

export function buildTorrent (input: InfoInput, transport: TorrentTransport, sha1: HasherFactory, createdAt = new Date()): BuiltTorrent {
  const info = infoDict(input)
  return { infoHash: infoHashOf(info, sha1), torrentFile: encodeTorrent(info, transport, createdAt) }
}

/**
 * The same torrent with other trackers and web seeds: the info dict is kept byte for byte,
 * so the infoHash does not change.
 */
export function withTransport (torrentFile: Uint8Array, transport: TorrentTransport): Uint8Array {
  const decoded = bencode.decode(torrentFile) as Record<string, unknown>
  if (decoded.info == null || typeof decoded.info !== 'object') throw new Error('not a torrent: no info dict')
  const created = typeof decoded['creation date'] === 'number' ? new Date(decoded['creation date'] * 1000) : undefined
  return encodeTorrent(decoded.info as Record<string, unknown>, transport, created)
}

/** A magnet link with name, trackers (tr), web seeds (ws) and where to fetch its .torrent (xs). */
export const magnetURI = (infoHash: string, name: string, transport: TorrentTransport): string =>
  // xs last, by hand: the encoder would write it before dn and tr (it writes keys in the order it got them).
  encodeMagnet({ infoHash, name, announce: transport.announce, urlList: transport.urlList }) +
  (transport.sources ?? []).map(url => `&xs=${encodeURIComponent(url)}`).join('')

/**
 * The infoHash (lowercase hex) a magnet link names, or undefined when it does not parse as a
 * magnet with exactly one `xt=urn:btih:` of 40 hex characters.
 */
export function magnetInfoHash (magnet: string): string | undefined {
  if (!magnet.startsWith('magnet:?')) return undefined
  const xt = new URLSearchParams(magnet.slice('magnet:?'.length)).getAll('xt')
  return xt.length === 1 ? /^urn:btih:([0-9a-f]{40})$/i.exec(xt[0]!)?.[1]?.toLowerCase() : undefined
}
