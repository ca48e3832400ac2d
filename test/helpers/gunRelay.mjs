// A GUN relay for tests, as a process of its own: gun's server on 127.0.0.1:<port> (argv[2]; 0 or
// none: a free one), keeping everything in memory (no radisk or its fs store, file, stats file in
// gun's package folder, multicast or AXE). Peers connect at /gun; any other path answers 200, for
// readiness checks. It prints "gun relay listening on <port>" when up.
import http from 'node:http'
import Gun from 'gun'

const server = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }).end('gun relay\n') })
Gun({ web: server, radisk: false, rfs: false, localStorage: false, file: false, stats: false, multicast: false, axe: false })
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log(`gun relay listening on ${server.address().port}`))
