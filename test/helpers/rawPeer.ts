/**
 * A bare BitTorrent peer over TCP, for tests that must see exactly what the seeder sends: it
 * connects, sends a handshake (any infoHash, any peer id, no extensions), and records every
 * message until the seeder closes the socket or the peer has what it asked for. `talk` is one
 * short exchange; `openPeer` keeps the connection, to see what the seeder does with it later.
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

/** One connection to the seeder: what it sent so far, parsed. */
export class RawPeer implements PeerTalk {
  received = 0
  handshake?: { infoHash: string, peerId: string }
  messages: number[] = []
  block?: Buffer
  closed = false
  unchoked = false
  private readonly socket: net.Socket
  private buf = Buffer.alloc(0)
  private error: Error | undefined
  /** Called after everything the seeder does (a message, the close). */
  private readonly waiting = new Set<() => void>()

  /** `localAddress`: the address to connect from (another client, as the seeder sees it). */
  constructor (port: number, infoHash: string, peerId: string, host = '127.0.0.1', localAddress?: string) {
    const socket = this.socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) })
    // A reset or a write after the seeder's close is the seeder closing on us, reported by 'close'.
    socket.on('error', err => {
      if (!['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '')) this.error = err
      this.changed()
    })
    socket.once('close', () => {
      this.closed = true
      this.changed()
    })
    socket.once('connect', () => {
      socket.write(Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), Buffer.from(infoHash, 'hex'), Buffer.from(peerId, 'hex')]))
    })
    socket.on('data', (chunk: Buffer) => { this.read(chunk) })
  }

  /** Resolves once `ready` holds, or the seeder closed the connection. */
  async until (ready: () => boolean): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.error) reject(this.error)
        else if (ready() || this.closed) resolve()
        else return
        this.waiting.delete(check)
      }
      this.waiting.add(check)
      check()
    })
  }

  /** Say interested and wait to be unchoked (or closed). */
  async interested (): Promise<void> {
    this.send(message(2))
    await this.until(() => this.unchoked)
  }

  /** Ask for the first block of `piece`: the block, or undefined when the seeder closed the connection instead. */
  async request (piece = 0): Promise<Buffer | undefined> {
    this.block = undefined
    this.send(message(6, piece, 0, BLOCK))
    await this.until(() => this.block !== undefined)
    return this.block
  }

  /** We close it (the seeder did not). */
  destroy (): void {
    this.socket.destroy()
  }

  private send (bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes)
  }

  private read (chunk: Buffer): void {
    this.received += chunk.length
    this.buf = Buffer.concat([this.buf, chunk])
    if (!this.handshake) {
      if (this.buf.length < 68) return
      this.handshake = { infoHash: this.buf.subarray(28, 48).toString('hex'), peerId: this.buf.subarray(48, 68).toString('hex') }
      this.buf = this.buf.subarray(68)
    }
    while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32BE(0)) {
      const length = this.buf.readUInt32BE(0)
      const body = this.buf.subarray(4, 4 + length)
      this.buf = this.buf.subarray(4 + length)
      if (length === 0) continue // keep-alive
      const id = body[0]!
      this.messages.push(id)
      if (id === 1) this.unchoked = true
      if (id === 7) this.block = Buffer.from(body.subarray(9))
      this.changed()
    }
  }

  private changed (): void {
    for (const check of [...this.waiting]) check()
  }
}

/**
 * Handshake for `infoHash` as `peerId` (hex), then wait for the seeder's first message (bitfield
 * or equivalent) or for the socket to close. With `block`, also say interested, wait to be
 * unchoked and ask for the first block of piece 0. Resolves as soon as that is settled.
 */
export async function talk (port: number, infoHash: string, peerId: string, opts: { host?: string, localAddress?: string, block?: boolean } = {}): Promise<PeerTalk> {
  const peer = new RawPeer(port, infoHash, peerId, opts.host, opts.localAddress)
  try {
    await peer.until(() => peer.messages.length > 0)
    if (opts.block && !peer.closed) {
      await peer.interested()
      await peer.request(0)
    }
    const { received, handshake, messages, block, closed } = peer
    return { received, ...(handshake ? { handshake } : {}), messages: [...messages], ...(block ? { block } : {}), closed }
  } finally {
    peer.destroy()
  }
}

/** A connection that stays open: handshaken, its first message in, interested and unchoked (or closed by the seeder). */
export async function openPeer (port: number, infoHash: string, peerId: string): Promise<RawPeer> {
  const peer = new RawPeer(port, infoHash, peerId)
  await peer.until(() => peer.messages.length > 0)
  if (!peer.closed) await peer.interested()
  return peer
}
