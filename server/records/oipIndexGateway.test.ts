import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { OipIndexGateway } from './oipIndexGateway.ts'

/** A gateway that redirects as told; `hits` counts the requests each of the two servers got. */
async function listen (handler: http.RequestListener): Promise<{ url: string, close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: async () => { await new Promise(resolve => server.close(resolve)) } }
}

describe('the indexer\'s gateway follows redirects only within its own host', () => {
  let gateway: Awaited<ReturnType<typeof listen>>
  let elsewhere: Awaited<ReturnType<typeof listen>>
  let elsewhereHits = 0
  before(async () => {
    elsewhere = await listen((_req, res) => { elsewhereHits++; res.end('secret') })
    gateway = await listen((req, res) => {
      if (req.url === '/away') res.writeHead(302, { location: `${elsewhere.url}/x` }).end()
      else if (req.url === '/here') res.writeHead(302, { location: '/data' }).end()
      else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end()
      else if (req.url === '/graphql') res.writeHead(307, { location: '/graphql-elsewhere' }).end()
      else res.end('item bytes')
    })
  })
  after(async () => { await gateway.close(); await elsewhere.close() })

  const open = (): OipIndexGateway => new OipIndexGateway(gateway.url, { pageSize: 10, timeoutMs: 5000 })

  test('a redirect to its own host is followed', async () => {
    assert.equal(new TextDecoder().decode(await open().data('here')), 'item bytes')
  })

  test('a redirect to another host is refused and never requested', async () => {
    await assert.rejects(open().data('away'), /redirected to http:\/\/127\.0\.0\.1:\d+, outside its own host/)
    assert.equal(elsewhereHits, 0)
  })

  test('a POST (GraphQL) is never sent on by a redirect, even within its host', async () => {
    await assert.rejects(open().page(undefined), /redirected a POST request: not followed/)
  })

  test('endless redirects end', async () => {
    await assert.rejects(open().data('loop'), /redirected more than 3 times/)
  })
})
