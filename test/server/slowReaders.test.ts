/**
 * Slow readers: byte responses are bounded in number (in all and per client address) and a
 * client that takes nothing for SEND_TIMEOUT_SECONDS is cut, so nobody can pin the server's
 * buffers by opening downloads and never reading them.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { randomBytesSeeded, startTestServer, upload, type TestServer } from '../helpers/server.ts'

/** Larger than what the kernel's socket buffers take on loopback, so a client that reads nothing stalls the server. */
const SIZE = 48 * 1024 * 1024

/**
 * A GET of the bytes from `localAddress` that stops reading once the response has begun (so
 * the server has taken a slot for it); `finish` reads the rest until the connection closes and
 * says how many body bytes came.
 */
async function stalledGet (baseUrl: string, mediaId: string, localAddress: string): Promise<{ finish: () => Promise<number>, cut: () => void }> {
  const { port } = new URL(baseUrl)
  const socket = net.connect({ host: '127.0.0.1', port: Number(port), localAddress })
  socket.on('error', () => {})
  socket.write(`GET /api/media/${mediaId} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  let head = Buffer.alloc(0)
  let received = 0
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      if (!head.subarray(0, end).toString().startsWith('HTTP/1.1 200')) reject(new Error(`not a 200: ${head.subarray(0, end).toString()}`))
      received = head.length - end - 4
      socket.off('data', onData)
      socket.pause()
      resolve()
    }
    socket.on('data', onData)
  })
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(received)))
  return {
    finish: async () => {
      socket.on('data', (chunk: Buffer) => { received += chunk.length })
      socket.resume()
      return await closed
    },
    cut: () => socket.destroy()
  }
}

/** GET over a fresh connection from `localAddress`. */
function get (url: string, localAddress: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { localAddress, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject)
  })
}

async function inFlight (server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()
  return Number(text.split('\n').find(l => l.startsWith('oip_byte_responses_in_flight '))?.split(' ')[1])
}

async function until (what: () => Promise<boolean>): Promise<void> {
  while (!await what()) await new Promise(resolve => setTimeout(resolve, 20))
}

describe('slow readers', () => {
  const servers: TestServer[] = []
  after(async () => { for (const s of servers) await s.destroy() })
  const bytes = randomBytesSeeded(SIZE, 700)

  test('byte responses past MAX_BYTE_RESPONSES, or past MAX_BYTE_RESPONSES_PER_ADDRESS for one address, get 503 with Retry-After', async () => {
    const server = await startTestServer({ MAX_BYTE_RESPONSES: '2', MAX_BYTE_RESPONSES_PER_ADDRESS: '1', SEND_TIMEOUT_SECONDS: '600' })
    servers.push(server)
    const { mediaId } = (await upload(server.url, bytes)).body
    const url = `${server.url}/api/media/${mediaId}`

    const first = await stalledGet(server.url, mediaId, '127.0.0.1')
    const sameAddress = await get(url, '127.0.0.1')
    assert.equal(sameAddress.status, 503)
    assert.equal(sameAddress.headers['retry-after'], '5')
    const perAddress = JSON.parse(sameAddress.body.toString()).error
    assert.equal(perAddress.code, 'too_many_downloads')
    assert.match(perAddress.message, /MAX_BYTE_RESPONSES_PER_ADDRESS/)

    const second = await stalledGet(server.url, mediaId, '127.0.0.2')
    const full = await get(url, '127.0.0.3')
    assert.equal(full.status, 503)
    assert.equal(full.headers['retry-after'], '5')
    assert.equal(JSON.parse(full.body.toString()).error.code, 'server_busy')
    // Small answers hold no buffers and are never refused.
    assert.equal((await get(`${url}/info`, '127.0.0.3')).status, 200)
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 200)

    // A client that goes away gives its slot back.
    first.cut()
    second.cut()
    await until(async () => await inFlight(server) === 0)
    const served = await get(url, '127.0.0.1')
    assert.equal(served.status, 200)
    assert.ok(served.body.equals(Buffer.from(bytes)))
  })

  test('a client that takes nothing for SEND_TIMEOUT_SECONDS is cut and its slot freed', async () => {
    const server = await startTestServer({ MAX_BYTE_RESPONSES: '1', SEND_TIMEOUT_SECONDS: '1' })
    servers.push(server)
    const { mediaId } = (await upload(server.url, bytes)).body
    const stalled = await stalledGet(server.url, mediaId, '127.0.0.1')
    // Nobody closes it but the server.
    await until(async () => await inFlight(server) === 0)
    const received = await stalled.finish()
    assert.ok(received < SIZE, `the response was cut: ${received} of ${SIZE} bytes (and headers) arrived`)
    const served = await get(`${server.url}/api/media/${mediaId}`, '127.0.0.1')
    assert.equal(served.status, 200)
    assert.equal(served.body.length, SIZE)
  })
})
