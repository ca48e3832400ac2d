/** A pull-through mirror of a server, as a CDN in front of it would be: forwards every request (with its Range) and counts the Range requests. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Mirror {
  url: string
  /** Range requests it forwarded so far. */
  ranges: () => number
  /** Where it forwards to; settable, for a mirror that must exist before its server starts. */
  origin: string
  close: () => Promise<void>
}

export async function startMirror (origin: string, port = 0): Promise<Mirror> {
  let ranges = 0
  const server = http.createServer((req, res) => {
    if (req.headers.range) ranges++
    const upstream = http.request(`${mirror.origin}${req.url}`, { method: req.method, headers: req.headers.range ? { range: req.headers.range } : {} }, up => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    upstream.end()
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  const mirror: Mirror = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ranges: () => ranges,
    origin,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  return mirror
}
