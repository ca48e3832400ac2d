/**
 * An HTTP relay on loopback for tests: each request goes on to the origin `route` picks for it
 * (a node, a gateway, a bucket), or, when it picks none, its connection is cut (a server that is
 * down). The tests watch or steer the traffic in `route`.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HttpRelay {
  url: string
  close (): Promise<void>
}

export async function startHttpRelay (route: (req: http.IncomingMessage) => string | undefined): Promise<HttpRelay> {
  const server = http.createServer((req, res) => {
    const origin = route(req)
    if (origin === undefined) return void req.socket.destroy()
    const out = http.request(new URL(req.url!, origin), { method: req.method, headers: req.headers }, answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    out.on('error', () => req.socket.destroy())
    req.pipe(out)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}
