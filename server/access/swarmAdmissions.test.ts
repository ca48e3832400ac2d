import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_PEERS_PER_KEY, MAX_PEERS_PER_SWARM, SwarmAdmissions, type Clock } from './swarmAdmissions.ts'

const A = 'aa'.repeat(20)
const B = 'bb'.repeat(20)

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
  admitted.admit(A, 'p1', 'alice', 2000)
  admitted.admit(A, 'p2', 'alice', 5000)
  assert.equal(admitted.has(A, 'p1'), true)
  assert.equal(admitted.has(B, 'p1'), false, 'another swarm')
  assert.equal(admitted.has(A, 'p3'), false, 'another peer id')
  clock.advance(2000)
  assert.equal(admitted.has(A, 'p1'), false, 'expired with its capability')
  assert.equal(admitted.has(A, 'p2'), true)
  admitted.forget(A, 'p2', 'alice')
  assert.equal(admitted.has(A, 'p2'), false, 'announced stopped')
  admitted.admit(A, 'p2', 'alice', 3000)
  assert.equal(admitted.has(A, 'p2'), true, 'announced again')
})

test('a key keeps at most MAX_PEERS_PER_KEY peer ids in a swarm (its own oldest goes, never another key\'s); a full swarm refuses new ones', () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  assert.equal(admitted.admit(A, 'owner', 'alice', 10), true)
  for (let i = 0; i < MAX_PEERS_PER_KEY; i++) admitted.admit(A, `bob-${i}`, 'bob', 10)
  admitted.admit(A, 'bob-0', 'bob', 10) // renewed: now bob's newest
  assert.equal(admitted.admit(A, 'bob-extra', 'bob', 10), true)
  assert.equal(admitted.has(A, 'bob-0'), true)
  assert.equal(admitted.has(A, 'bob-1'), false, "bob's own oldest went")
  assert.equal(admitted.has(A, 'owner'), true, "another key's peer stays")
  for (let i = 0; admitted.admit(B, `k${i}`, `key-${i}`, 10); i++) assert.ok(i < MAX_PEERS_PER_SWARM)
  assert.equal(admitted.admit(B, 'late', 'late-key', 10), false, 'a full swarm')
  assert.equal(admitted.has(B, 'k0'), true)
})

test("no key takes over or ends another key's admission of a peer id", () => {
  const admitted = new SwarmAdmissions(undefined, testClock(0))
  admitted.admit(A, 'alice-peer', 'alice', 10)
  assert.equal(admitted.admit(A, 'alice-peer', 'bob', 10), false)
  admitted.forget(A, 'alice-peer', 'bob')
  assert.equal(admitted.has(A, 'alice-peer'), true)
  admitted.forgetKey(A, 'bob')
  assert.equal(admitted.has(A, 'alice-peer'), true, "bob's revoke does not end it")
  admitted.forget(A, 'alice-peer', 'alice')
  assert.equal(admitted.has(A, 'alice-peer'), false)
})

test("a key's admissions end at once, and only that key's, only in that swarm: the peers that left are answered", () => {
  const admitted = new SwarmAdmissions(undefined, testClock())
  admitted.admit(A, 'owner-peer', 'alice', 9000)
  admitted.admit(A, 'bob-1', 'bob', 9000, 8000)
  admitted.admit(A, 'bob-2', 'bob', 9000, 8000)
  admitted.admit(B, 'bob-3', 'bob', 9000)
  assert.deepEqual(admitted.forgetKey(A, 'bob'), ['bob-1', 'bob-2'])
  assert.equal(admitted.has(A, 'bob-1'), false)
  assert.equal(admitted.has(A, 'owner-peer'), true)
  assert.equal(admitted.has(B, 'bob-3'), true, 'another swarm')
  assert.deepEqual(admitted.forgetKey(A, 'bob'), [], 'ended already')
  assert.deepEqual(admitted.forgetSwarm(A), ['owner-peer'])
  assert.equal(admitted.has(A, 'owner-peer'), false)
})

test("a limit bounds a key's admissions below its capability; changed, it moves them both ways, never past the capability", () => {
  const clock = testClock()
  const admitted = new SwarmAdmissions(undefined, clock)
  admitted.admit(A, 'bob-1', 'bob', 9000, 3000)
  admitted.admit(A, 'carol-1', 'carol', 9000, 3000)
  assert.deepEqual(admitted.limitKey(A, 'bob', 20_000), [])
  clock.advance(3000)
  assert.equal(admitted.has(A, 'carol-1'), false, 'ended at its limit')
  assert.equal(admitted.has(A, 'bob-1'), true, 'lengthened')
  assert.deepEqual(admitted.limitKey(A, 'bob', 5000), [])
  clock.advance(5000)
  assert.equal(admitted.has(A, 'bob-1'), false, 'shortened')
  admitted.admit(A, 'bob-1', 'bob', 9000)
  assert.deepEqual(admitted.limitKey(A, 'bob', 5000), ['bob-1'], 'a limit already past ends it at once')
  admitted.admit(A, 'bob-1', 'bob', 9000)
  admitted.limitKey(A, 'bob', Infinity)
  clock.advance(8999)
  assert.equal(admitted.has(A, 'bob-1'), true)
  clock.advance(9000)
  assert.equal(admitted.has(A, 'bob-1'), false, 'no later than its capability')
})

test('when admissions end by themselves, the peers that left are told at that moment, once; no timer is left for an empty swarm', () => {
  const clock = testClock()
  const told: Array<[string, string[], number]> = []
  const admitted = new SwarmAdmissions((infoHash, peerIds) => { told.push([infoHash, peerIds, clock.now()]) }, clock)
  admitted.admit(A, 'p1', 'alice', 5000)
  admitted.admit(A, 'p2', 'bob', 9000, 2000)
  admitted.admit(A, 'p3', 'bob', 9000, 2000)
  admitted.admit(B, 'p4', 'carol', 4000)
  admitted.admit(A, 'p1', 'alice', 6000) // renewed before it was due
  clock.advance(1999)
  assert.deepEqual(told, [])
  clock.advance(2000)
  assert.deepEqual(told, [[A, ['p2', 'p3'], 2000]])
  clock.advance(10_000)
  assert.deepEqual(told, [[A, ['p2', 'p3'], 2000], [B, ['p4'], 4000], [A, ['p1'], 6000]])
  assert.equal(clock.pending(), 0)
  admitted.admit(A, 'p5', 'alice', 20_000)
  admitted.forget(A, 'p5', 'alice')
  assert.equal(clock.pending(), 0, 'the swarm emptied: its timer went with it')
  admitted.admit(A, 'p6', 'alice', 20_000)
  admitted.forgetSwarm(A)
  assert.equal(clock.pending(), 0)
  assert.equal(told.length, 3, 'ended on purpose: the caller was answered, nobody else is told')
})

test('it fails closed: an admission past its end is refused even before its timer runs', () => {
  let now = 1000
  const admitted = new SwarmAdmissions(undefined, { now: () => now, after: () => () => {} })
  admitted.admit(A, 'p1', 'bob', 9000, 2000)
  now = 2000
  assert.equal(admitted.has(A, 'p1'), false)
})
