// Types for the small untyped packages the shared code uses.
declare module 'piece-length' {
  export default function pieceLength (bytes: number): number
}
declare module 'bencode' {
  const bencode: {
    encode (value: unknown): Uint8Array
    decode (data: Uint8Array, encoding?: string): unknown
  }
  export default bencode
}
declare module 'magnet-uri' {
  export function encode (obj: { infoHash: string, name?: string, announce?: string[], urlList?: string[] }): string
  export function decode (uri: string): { infoHash?: string, name?: string, announce: string[], urlList: string[], xs?: string | string[] }
}
declare module 'create-torrent' {
  export default function createTorrent (input: unknown, opts: Record<string, unknown>, cb: (err: Error | null, torrent: Buffer) => void): void
}
declare module 'parse-torrent' {
  export interface ParsedTorrent { infoHash: string, name: string, length: number, announce: string[], urlList: string[], private?: boolean, pieceLength: number, pieces: string[], info?: Record<string, unknown> }
  export default function parseTorrent (torrentId: Uint8Array | string | object): Promise<ParsedTorrent>
  export function toTorrentFile (parsed: object): Uint8Array
}
