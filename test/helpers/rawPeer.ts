/**
 * A bare BitTorrent peer over TCP, for tests that must see exactly what the seeder sends: it
 * connects, sends a handshake (any infoHash, any peer id, no extensions), and records every
 * message until the seeder closes the socket or the peer has what it asked for.
 */
import net from 'node:net'

export const BLOCK = 16 * 1024

export interface PeerTalk {
  /** Bytes the seeder sent, handshake included. */
  received: number
  /** The seeder's handshake, when it sent one. */
  handshake?: { infoHash: string, peerId: string }
  /** Ids of the messages after the handshake (5 bitfield, 1 unchoke, 7 piece, …). */
  messages: number[]
  /** With `block`: the first 16 KiB of piece 0, when the seeder sent it. */
  block?: Buffer
  /** The seeder closed the connection. */
  closed: boolean
}

const message = (id: number, ...ints: number[]): Buffer => {
  const b = Buffer.alloc(5 + 4 * ints.length)
  b.writeUInt32BE(1 + 4 * ints.length, 0)
  b[4] = id
  ints.forEach((n, i) => b.writeUInt32BE(n, 5 + 4 * i))
  return b
}

/**
 * Handshake for `infoHash` as `peerId` (hex), then wait for the seeder's first message (bitfield
 * or equivalent) or for the socket to close. With `block`, also say interested, wait to be
 * unchoked and ask for the first block of piece 0. Resolves as soon as that is settled.
 */
export async function talk (port: number, infoHash: string, peerId: string, opts: { host?: string, block?: boolean } = {}): Promise<PeerTalk> {
  const socket = net.connect(port, opts.host ?? '127.0.0.1')
  const result: PeerTalk = { received: 0, messages: [], closed: false }
  let buf = Buffer.alloc(0)
  return await new Promise<PeerTalk>((resolve, reject) => {
    let settled = false
    const done = (): void => {
      settled = true
      socket.destroy()
      resolve(result)
    }
    // A reset is the seeder closing on us, reported by 'close'.
    socket.on('error', err => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    socket.once('close', () => {
      if (settled) return
      result.closed = true
      resolve(result)
    })
    socket.once('connect', () => {
      socket.write(Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), Buffer.from(infoHash, 'hex'), Buffer.from(peerId, 'hex')]))
    })
    socket.on('data', (chunk: Buffer) => {
      if (settled) return
      result.received += chunk.length
      buf = Buffer.concat([buf, chunk])
      if (!result.handshake) {
        if (buf.length < 68) return
        result.handshake = { infoHash: buf.subarray(28, 48).toString('hex'), peerId: buf.subarray(48, 68).toString('hex') }
        buf = buf.subarray(68)
      }
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const length = buf.readUInt32BE(0)
        const body = buf.subarray(4, 4 + length)
        buf = buf.subarray(4 + length)
        if (length === 0) continue // keep-alive
        const id = body[0]!
        const first = result.messages.length === 0
        result.messages.push(id)
        if (!opts.block) return done()
        if (first) socket.write(message(2)) // interested
        if (id === 1) socket.write(message(6, 0, 0, BLOCK)) // unchoked: request piece 0, offset 0
        if (id === 7) {
          result.block = Buffer.from(body.subarray(9))
          return done()
        }
      }
    })
  })
}
