/**
 * A front for several nodes, standing in for the reverse proxy of a real deployment: one
 * address (the nodes' PUBLIC_URL) whose TCP connections go round-robin to the nodes, skipping
 * one that refuses (a dead node), as nginx's upstream does.
 */
import net from 'node:net'

export interface Front {
  url: string
  /** The node ports connections go to now. */
  ports: number[]
  close (): Promise<void>
}

export async function startFront (): Promise<Front> {
  let next = 0
  const sockets = new Set<net.Socket>()
  const front: Front = { url: '', ports: [], close: async () => {} }
  const server = net.createServer(client => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    client.pause()
    const tryNode = (left: number): void => {
      if (left === 0 || front.ports.length === 0) return void client.destroy()
      const port = front.ports[next++ % front.ports.length]!
      const upstream = net.connect({ port, host: '127.0.0.1' })
      const refused = (): void => tryNode(left - 1)
      upstream.once('error', refused)
      upstream.once('connect', () => {
        upstream.off('error', refused)
        upstream.on('error', () => client.destroy())
        upstream.on('close', () => client.destroy())
        client.on('close', () => upstream.destroy())
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    tryNode(front.ports.length)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  front.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  front.close = async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  }
  return front
}
