import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_PEERS_PER_KEY, MAX_PEERS_PER_SWARM, SwarmAdmissions, type Clock } from './swarmAdmissions.ts'

const A = 'aa'.repeat(20)
const B = 'bb'.repeat(20)
/** Where the test's peers announce from. */
const HERE = '192.0.2.1'

/** A clock the test moves: timers run when it passes their time, in order. */
function testClock (t = 1000): Clock & { advance (to: number): void, pending (): number } {
  const timers = new Set<{ at: number, fn: () => void }>()
  return {
    now: () => t,
    after (ms, fn) {
      const timer = { at: t + ms, fn }
      timers.add(timer)
      return () => timers.delete(timer)
    },
    advance (to) {
      for (let due = [...timers].filter(x => x.at <= to); due.length > 0; due = [...timers].filter(x => x.at <= to)) {
        const first = due.sort((x, y) => x.at - y.at)[0]!
        timers.delete(first)
        t = Math.max(t, first.at)
        first.fn()
      }
      t = to
    },
    pending: () => timers.size
  }
}

test('an admission holds for its swarm and peer id until it expires or the peer stops', () => {
  const clock = testClock()
  const admitted = new SwarmAdmissions(undefined, clock)
  admitted.admit(A, 'p1', HERE, 'alice', 2000)
  admitted.admit(A, 'p2', HERE, 'alice', 5000)
  assert.equal(admitted.has(A, 'p1', HERE), true)
  assert.equal(admitted.has(B, 'p1', HERE), false, 'another swarm')
  assert.equal(admitted.has(A, 'p3', HERE), false, 'another peer id')
  clock.advance(2000)
  assert.equal(admitted.has(A, 'p1', HERE), false, 'expired with its capability')
  assert.equal(admitted.has(A, 'p2', HERE), true)
  admitted.forget(A, 'p2', 'alice')
  assert.equal(admitted.has(A, 'p2', HERE), false, 'announced stopped')
  admitted.admit(A, 'p2', HERE, 'alice', 3000)
  assert.equal(admitted.has(A, 'p2', HERE), true, 'announced again')
})

test('a key keeps at most MAX_PEERS_PER_KEY peer ids in a swarm (its own oldest goes, never another key\'s); a full swarm refuses new ones', () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  assert.equal(admitted.admit(A, 'owner', HERE, 'alice', 10), true)
  for (let i = 0; i < MAX_PEERS_PER_KEY; i++) admitted.admit(A, `bob-${i}`, HERE, 'bob', 10)
  admitted.admit(A, 'bob-0', HERE, 'bob', 10) // renewed: now bob's newest
  assert.equal(admitted.admit(A, 'bob-extra', HERE, 'bob', 10), true)
  assert.equal(admitted.has(A, 'bob-0', HERE), true)
  assert.equal(admitted.has(A, 'bob-1', HERE), false, "bob's own oldest went")
  assert.equal(admitted.has(A, 'owner', HERE), true, "another key's peer stays")
  for (let i = 0; admitted.admit(B, `k${i}`, HERE, `key-${i}`, 10); i++) assert.ok(i < MAX_PEERS_PER_SWARM)
  assert.equal(admitted.admit(B, 'late', HERE, 'late-key', 10), false, 'a full swarm')
  assert.equal(admitted.has(B, 'k0', HERE), true)
})

test("no key takes over or ends another key's admission of a peer id", () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  admitted.admit(A, 'alice-peer', HERE, 'alice', 10)
  assert.equal(admitted.admit(A, 'alice-peer', HERE, 'bob', 10), false)
  admitted.forget(A, 'alice-peer', 'bob')
  assert.equal(admitted.has(A, 'alice-peer', HERE), true)
  admitted.forgetKey(A, 'bob')
  assert.equal(admitted.has(A, 'alice-peer', HERE), true, "bob's revoke does not end it")
  admitted.forget(A, 'alice-peer', 'alice')
  assert.equal(admitted.has(A, 'alice-peer', HERE), false)
})

test("a key's admissions end at once, and only that key's, only in that swarm: the peers that left are answered", () => {
  const admitted = new SwarmAdmissions(undefined, testClock())
  admitted.admit(A, 'owner-peer', HERE, 'alice', 9000)
  admitted.admit(A, 'bob-1', HERE, 'bob', 9000, 8000)
  admitted.admit(A, 'bob-2', HERE, 'bob', 9000, 8000)
  admitted.admit(B, 'bob-3', HERE, 'bob', 9000)
  assert.deepEqual(admitted.forgetKey(A, 'bob'), ['bob-1', 'bob-2'])
  assert.equal(admitted.has(A, 'bob-1', HERE), false)
  assert.equal(admitted.has(A, 'owner-peer', HERE), true)
  assert.equal(admitted.has(B, 'bob-3', HERE), true, 'another swarm')
  assert.deepEqual(admitted.forgetKey(A, 'bob'), [], 'ended already')
  assert.deepEqual(admitted.forgetSwarm(A), ['owner-peer'])
  assert.equal(admitted.has(A, 'owner-peer', HERE), false)
})

test("a limit bounds a key's admissions below its capability; changed, it moves them both ways, never past the capability", () => {
  const clock = testClock()
  const admitted = new SwarmAdmissions(undefined, clock)
  admitted.admit(A, 'bob-1', HERE, 'bob', 9000, 3000)
  admitted.admit(A, 'carol-1', HERE, 'carol', 9000, 3000)
  assert.deepEqual(admitted.limitKey(A, 'bob', 20_000), [])
  clock.advance(3000)
  assert.equal(admitted.has(A, 'carol-1', HERE), false, 'ended at its limit')
  assert.equal(admitted.has(A, 'bob-1', HERE), true, 'lengthened')
  assert.deepEqual(admitted.limitKey(A, 'bob', 5000), [])
  clock.advance(5000)
  assert.equal(admitted.has(A, 'bob-1', HERE), false, 'shortened')
  admitted.admit(A, 'bob-1', HERE, 'bob', 9000)
  assert.deepEqual(admitted.limitKey(A, 'bob', 5000), ['bob-1'], 'a limit already past ends it at once')
  admitted.admit(A, 'bob-1', HERE, 'bob', 9000)
  admitted.limitKey(A, 'bob', Infinity)
  clock.advance(8999)
  assert.equal(admitted.has(A, 'bob-1', HERE), true)
  clock.advance(9000)
  assert.equal(admitted.has(A, 'bob-1', HERE), false, 'no later than its capability')
})

test('when admissions end by themselves, the peers that left are told at that moment, once; no timer is left for an empty swarm', () => {
  const clock = testClock()
  const told: Array<[string, string[], number]> = []
  const admitted = new SwarmAdmissions((infoHash, peerIds) => { told.push([infoHash, peerIds, clock.now()]) }, clock)
  admitted.admit(A, 'p1', HERE, 'alice', 5000)
  admitted.admit(A, 'p2', HERE, 'bob', 9000, 2000)
  admitted.admit(A, 'p3', HERE, 'bob', 9000, 2000)
  admitted.admit(B, 'p4', HERE, 'carol', 4000)
  admitted.admit(A, 'p1', HERE, 'alice', 6000) // renewed before it was due
  clock.advance(1999)
  assert.deepEqual(told, [])
  clock.advance(2000)
  assert.deepEqual(told, [[A, ['p2', 'p3'], 2000]])
  clock.advance(10_000)
  assert.deepEqual(told, [[A, ['p2', 'p3'], 2000], [B, ['p4'], 4000], [A, ['p1'], 6000]])
  assert.equal(clock.pending(), 0)
  admitted.admit(A, 'p5', HERE, 'alice', 20_000)
  admitted.forget(A, 'p5', 'alice')
  assert.equal(clock.pending(), 0, 'the swarm emptied: its timer went with it')
  admitted.admit(A, 'p6', HERE, 'alice', 20_000)
  admitted.forgetSwarm(A)
  assert.equal(clock.pending(), 0)
  assert.equal(told.length, 3, 'ended on purpose: the caller was answered, nobody else is told')
})

test('it fails closed: an admission past its end is refused even before its timer runs', () => {
  let now = 1000
  const admitted = new SwarmAdmissions(undefined, { now: () => now, after: () => () => {} })
  admitted.admit(A, 'p1', HERE, 'bob', 9000, 2000)
  now = 2000
  assert.equal(admitted.has(A, 'p1', HERE), false)
})

test('an admission is bound to the address its peer announced from (IPv4-mapped IPv6 is the IPv4 address); announcing again moves it', () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  admitted.admit(A, 'p1', '::ffff:192.0.2.1', 'alice', 10)
  assert.equal(admitted.has(A, 'p1', '192.0.2.1'), true)
  assert.equal(admitted.has(A, 'p1', '::ffff:192.0.2.1'), true)
  assert.equal(admitted.has(A, 'p1', '192.0.2.2'), false, 'the same peer id from elsewhere')
  assert.equal(admitted.has(A, 'p1', null), true, 'by peer id alone (WebRTC)')
  admitted.admit(A, 'p1', '2001:DB8::1', 'alice', 10)
  assert.equal(admitted.has(A, 'p1', '2001:db8::1'), true)
  assert.equal(admitted.has(A, 'p1', '192.0.2.1'), false, 'not from where it was')
  assert.equal(admitted.admit(A, 'p1', '192.0.2.2', 'bob', 10), false)
  assert.equal(admitted.has(A, 'p1', '192.0.2.2'), false, 'another key cannot move it')
})

test('a decision goes stale only when admissions to its own swarm end on purpose; none is kept once done', () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  const a = admitted.decide(A)
  const b = admitted.decide(B)
  admitted.forgetKey(B, 'bob')
  assert.equal(a.stale, false, "another swarm's end")
  assert.equal(b.stale, true)
  admitted.limitKey(A, 'bob', 5)
  assert.equal(a.stale, true)
  a.done()
  b.done()
  const again = admitted.decide(A)
  admitted.forgetSwarm(B)
  assert.equal(again.stale, false, 'a new decision starts fresh')
  admitted.forgetSwarm(A)
  assert.equal(again.stale, true)
  again.done()
  assert.equal(Reflect.get(admitted, 'deciding').size, 0, 'nothing left per swarm once every decision is done')
})
