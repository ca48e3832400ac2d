import http from 'node:http'
import { startTestServer } from './test/helpers/server.ts'
import { newIdentity, signIn } from './test/helpers/auth.ts'
import { createUpload } from './test/helpers/tus.ts'
const s = await startTestServer({})
const token = await signIn(s.url, await newIdentity())
const SIZE = Number(process.env.MB ?? 512) * 1024 * 1024, CH = 8 * 1024 * 1024
const buf = Buffer.alloc(CH, 3)
const { url } = await createUpload(s.url, token, SIZE)
const agent = new http.Agent({ keepAlive: true })
const patch = (off: number): Promise<number> => new Promise((resolve, reject) => {
  const t = performance.now()
  const req = http.request(url, { method: 'PATCH', agent, headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}`, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(off), 'Content-Length': String(CH) } }, res => { res.resume(); res.on('end', () => resolve(performance.now() - t)) })
  req.on('error', reject)
  req.end(buf)
})
const t0 = performance.now(); const lat: number[] = []
for (let off = 0; off < SIZE; off += CH) { buf.writeUInt32BE(off / CH, 0); lat.push(await patch(off)) }
const ms = performance.now() - t0
const q = (p: number) => [...lat].sort((a, b) => a - b)[Math.floor(p * (lat.length - 1))]!.toFixed(1)
console.log('MB/s', (SIZE / 1048576 / (ms / 1000)).toFixed(0), 'p50', q(0.5), 'p90', q(0.9))
await s.destroy()
