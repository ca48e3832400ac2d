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
  export function decode (uri: string): { infoHash?: string, name?: string, announce: string[], urlList: string[] }
}
