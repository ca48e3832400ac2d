import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClientAddresses, normalizeAddress, parseTrustProxy } from './clientAddress.ts'

/** What a request from `socket` carrying `forwardedFor` is seen to come from. */
const seen = (trustProxy: string, socket: string | undefined, forwardedFor?: string | string[]): string =>
  new ClientAddresses(parseTrustProxy(trustProxy)).of({ socket: { remoteAddress: socket }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })

test('without TRUST_PROXY the socket is the client, whatever it forwards; an IPv4-mapped address is the IPv4 one', () => {
  assert.equal(seen('', '::ffff:192.0.2.7', '198.51.100.1'), '192.0.2.7')
  assert.equal(seen('', '2001:DB8::7'), '2001:db8::7')
  assert.equal(seen('', undefined), 'unknown', 'a socket already gone')
  assert.equal(normalizeAddress('::ffff:10.1.2.3'), '10.1.2.3')
})

test('from a trusted proxy the client is the right-most hop that is not a trusted proxy', () => {
  assert.equal(seen('10.0.0.1', '10.0.0.1', '198.51.100.1'), '198.51.100.1')
  assert.equal(seen('10.0.0.1', '::ffff:10.0.0.1', '6.6.6.6, 198.51.100.1'), '198.51.100.1', "the client's own entries are left of it")
  assert.equal(seen('10.0.0.0/8', '10.0.0.1', '6.6.6.6, 198.51.100.1, 10.0.0.2'), '198.51.100.1', 'past a chain of trusted proxies')
  assert.equal(seen('10.0.0.0/8', '10.0.0.1', ['6.6.6.6', '198.51.100.1, 10.0.0.2']), '198.51.100.1', 'the header sent twice')
  assert.equal(seen('10.0.0.0/8', '10.0.0.1', '10.0.0.3, 10.0.0.2'), '10.0.0.3', 'every hop trusted: the first')
  assert.equal(seen('10.0.0.1', '10.0.0.1'), '10.0.0.1', 'no header: the proxy itself')
  assert.equal(seen('10.0.0.1', '10.0.0.1', 'not-an-address'), '10.0.0.1', 'a hop that is no address: the last one known')
  assert.equal(seen('loopback', '::1', '2001:db8::9'), '2001:db8::9')
  assert.equal(seen('loopback', '127.0.0.5', '198.51.100.1'), '198.51.100.1')
})

test('from an address that is not a trusted proxy X-Forwarded-For is ignored', () => {
  assert.equal(seen('10.0.0.1', '198.51.100.9', '10.0.0.1'), '198.51.100.9')
  assert.equal(seen('10.0.0.0/24', '10.0.1.1', '198.51.100.1'), '10.0.1.1', 'outside the trusted network')
})

test('TRUST_PROXY: addresses, CIDRs and loopback; anything else stops the server with a message naming the setting', () => {
  assert.deepEqual(parseTrustProxy(' 10.0.0.5 , 2001:db8::/32,'), [
    { network: '10.0.0.5', prefix: 32, family: 'ipv4' },
    { network: '2001:db8::', prefix: 32, family: 'ipv6' }
  ])
  assert.deepEqual(parseTrustProxy(undefined), [])
  assert.equal(parseTrustProxy('loopback').length, 2)
  for (const bad of ['nginx', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '::1/129', '10.0.0.0/x']) {
    assert.throws(() => parseTrustProxy(bad), { message: `TRUST_PROXY must be a comma list of the addresses or networks of your reverse proxies (e.g. 10.0.0.5, 10.0.0.0/8, loopback), got "${bad}"` })
  }
})
