import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SampleRing } from './sampleRing.ts'

const FIELDS = ['at', 'value'] as const

test('a ring gives its samples back oldest first, the newest as latest', () => {
  const ring = new SampleRing(FIELDS, 4)
  assert.equal(ring.size, 0)
  assert.deepEqual(ring.samples(), [])
  assert.equal(ring.latest(), undefined)
  ring.push({ at: 1, value: 10 })
  ring.push({ at: 2, value: 20.5 })
  assert.equal(ring.size, 2)
  assert.deepEqual(ring.samples(), [{ at: 1, value: 10 }, { at: 2, value: 20.5 }])
  assert.deepEqual(ring.latest(), { at: 2, value: 20.5 })
})

test('a full ring stays at its capacity: each new sample takes the oldest one\'s place, order kept across the wrap', () => {
  const ring = new SampleRing(FIELDS, 3)
  for (let i = 1; i <= 3; i++) ring.push({ at: i, value: i * 10 })
  assert.deepEqual(ring.samples().map(s => s.at), [1, 2, 3])
  ring.push({ at: 4, value: 40 })
  assert.equal(ring.size, 3)
  assert.deepEqual(ring.samples(), [{ at: 2, value: 20 }, { at: 3, value: 30 }, { at: 4, value: 40 }])
  // Many times round: still the last three, in order.
  for (let i = 5; i <= 1000; i++) ring.push({ at: i, value: i * 10 })
  assert.equal(ring.size, 3)
  assert.deepEqual(ring.samples(), [{ at: 998, value: 9980 }, { at: 999, value: 9990 }, { at: 1000, value: 10000 }])
  assert.deepEqual(ring.latest(), { at: 1000, value: 10000 })
})

test('a ring of one holds the newest sample only; a ring of none is refused', () => {
  const ring = new SampleRing(FIELDS, 1)
  ring.push({ at: 1, value: 1 })
  ring.push({ at: 2, value: 2 })
  assert.deepEqual(ring.samples(), [{ at: 2, value: 2 }])
  assert.throws(() => new SampleRing(FIELDS, 0), RangeError)
  assert.throws(() => new SampleRing(FIELDS, 1.5), RangeError)
})
