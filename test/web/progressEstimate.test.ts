/** Time left for long work (web/lib/progressEstimate.ts): the smoothed rate and how it reads. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatTimeLeft, RateEstimator } from '../../web/lib/progressEstimate.ts'

/** Feed `estimator` progress at `perMs` from `from` for `ms`, a sample every 250 ms; the last sample's time. */
function steady (estimator: RateEstimator, from: { done: number, at: number }, perMs: number, ms: number): { done: number, at: number } {
  let { done, at } = from
  for (let t = 250; t <= ms; t += 250) {
    done = from.done + perMs * t
    at = from.at + t
    estimator.update(done, at)
  }
  return { done, at }
}

test('unknown until it has watched a second; then, at a steady rate, exactly the time left', () => {
  const e = new RateEstimator()
  assert.equal(e.msLeft(1), undefined)
  e.update(0, 10_000)
  assert.equal(e.msLeft(1), undefined)
  // 1 % per second: after 0.75 s it still says nothing.
  const early = steady(e, { done: 0, at: 10_000 }, 0.00001, 750)
  assert.equal(e.msLeft(1), undefined)
  const later = steady(e, early, 0.00001, 1250)
  assert.ok(Math.abs(later.done - 0.02) < 1e-12)
  assert.ok(Math.abs(e.msLeft(1)! - 98_000) < 1e-6, `${e.msLeft(1)}`)
})

test('a burst moves the estimate a little, not by its own rate', () => {
  const e = new RateEstimator()
  e.update(0, 0)
  const before = steady(e, { done: 0, at: 0 }, 0.00001, 10_000)
  const settled = e.msLeft(1)!
  // One sample ten times as fast as the rest (a cache, a batch of pieces at once).
  e.update(before.done + 0.0025 * 10, before.at + 250)
  const after = e.msLeft(1)!
  const naive = (1 - before.done - 0.025) / (0.025 / 250)
  assert.ok(after < settled && after > settled / 2, `${settled} → ${after}`)
  assert.ok(after > naive * 5, `smoothed ${after}, instant rate would say ${naive}`)
})

test('a stall makes the estimate grow by itself, then unknown once it is beyond a day', () => {
  const e = new RateEstimator()
  e.update(0, 0)
  const last = steady(e, { done: 0, at: 0 }, 0.0001, 2000)
  let previous = e.msLeft(1)!
  let at = last.at
  let grew = 0
  while (e.msLeft(1) !== undefined) {
    at += 1000
    e.update(last.done, at)
    const now = e.msLeft(1)
    if (now !== undefined) { assert.ok(now > previous); previous = now; grew++ }
    assert.ok(at < last.at + 600_000, 'still an estimate after ten minutes of nothing')
  }
  assert.ok(grew > 10)
  assert.ok(previous <= 24 * 3600_000)
})

test('going back (an upload started over) forgets the old rate; done means nothing left', () => {
  const e = new RateEstimator()
  e.update(0, 0)
  const last = steady(e, { done: 0, at: 0 }, 0.0001, 2000)
  assert.notEqual(e.msLeft(1), undefined)
  e.update(0.05, last.at + 250)
  assert.equal(e.msLeft(1), undefined)
  const again = steady(e, { done: 0.05, at: last.at + 250 }, 0.0001, 2000)
  assert.ok(Math.abs(e.msLeft(1)! - (1 - again.done) / 0.0001) < 1e-6)
  e.update(1, again.at + 250)
  assert.equal(e.msLeft(1), 0)
  // Two samples at the same moment do not divide by zero.
  e.update(1, again.at + 250)
  assert.equal(e.msLeft(1), 0)
})

test('formatTimeLeft: "—" when unknown, 5 s steps up to a minute and a half, then minutes, then hours, always rounded up', () => {
  assert.equal(formatTimeLeft(undefined), '—')
  assert.equal(formatTimeLeft(0), '5 s')
  assert.equal(formatTimeLeft(4_200), '5 s')
  assert.equal(formatTimeLeft(12_000), '15 s')
  assert.equal(formatTimeLeft(61_000), '65 s')
  assert.equal(formatTimeLeft(88_000), '90 s')
  assert.equal(formatTimeLeft(90_000), '2 min')
  assert.equal(formatTimeLeft(58 * 60_000 + 1), '59 min')
  assert.equal(formatTimeLeft(3_600_000), '1 h')
  assert.equal(formatTimeLeft(3_900_000), '1 h 5 min')
})
