import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_PEERS_PER_SWARM, SwarmAdmissions } from './swarmAdmissions.ts'

const A = 'aa'.repeat(20)
const B = 'bb'.repeat(20)

test('an admission holds for its swarm and peer id until it expires or the peer stops', () => {
  const clock = { t: 1000 }
  const admitted = new SwarmAdmissions(() => clock.t)
  admitted.admit(A, 'p1', 2000)
  admitted.admit(A, 'p2', 5000)
  assert.equal(admitted.has(A, 'p1'), true)
  assert.equal(admitted.has(B, 'p1'), false, 'another swarm')
  assert.equal(admitted.has(A, 'p3'), false, 'another peer id')
  clock.t = 2000
  assert.equal(admitted.has(A, 'p1'), false, 'expired with its capability')
  assert.equal(admitted.has(A, 'p2'), true)
  admitted.forget(A, 'p2')
  assert.equal(admitted.has(A, 'p2'), false, 'announced stopped')
  admitted.admit(A, 'p2', 3000)
  assert.equal(admitted.has(A, 'p2'), true, 'announced again')
})

test('a swarm keeps at most MAX_PEERS_PER_SWARM peer ids: the longest unrenewed goes first', () => {
  const admitted = new SwarmAdmissions(() => 0)
  for (let i = 0; i < MAX_PEERS_PER_SWARM; i++) admitted.admit(A, `p${i}`, 10)
  admitted.admit(A, 'p0', 10) // renewed: now the newest
  admitted.admit(A, 'extra', 10)
  assert.equal(admitted.has(A, 'p0'), true)
  assert.equal(admitted.has(A, 'p1'), false)
  assert.equal(admitted.has(A, 'extra'), true)
})
