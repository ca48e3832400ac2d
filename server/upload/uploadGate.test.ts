import assert from 'node:assert/strict'
import os from 'node:os'
import { test } from 'node:test'
import { AppError } from '../../shared/errors.ts'
import { UploadGate } from './uploadGate.ts'

/** A statfs that answers nobody until told to (then everyone, at once), so every caller is inside the gate's await together. */
function slowDisk (free: number): { freeBytes: () => Promise<number>, answer: () => void } {
  const waiting: Array<() => void> = []
  let answering = false
  return {
    freeBytes: async () => answering ? free : await new Promise<number>(resolve => waiting.push(() => resolve(free))),
    answer: () => {
      answering = true
      for (const resolve of waiting.splice(0)) resolve()
    }
  }
}

const settle = async <T>(promises: Array<Promise<T>>): Promise<{ ok: T[], refused: AppError[] }> => {
  const results = await Promise.allSettled(promises)
  return {
    ok: results.flatMap(r => r.status === 'fulfilled' ? [r.value] : []),
    refused: results.flatMap(r => r.status === 'rejected' ? [r.reason as AppError] : [])
  }
}

test('uploads entering at the same moment never pass MAX_CONCURRENT_UPLOADS, however slow the disk answers', async () => {
  const disk = slowDisk(10 * 1024 ** 3)
  const gate = new UploadGate({ maxConcurrent: 3, lowWaterBytes: 0, mediaDir: os.tmpdir(), freeBytes: disk.freeBytes })
  const entering = settle(Array.from({ length: 10 }, async () => await gate.enter()))
  // Let every enter reach the disk question before any is answered.
  await new Promise(resolve => setImmediate(resolve))
  disk.answer()
  const { ok, refused } = await entering
  assert.equal(ok.length, 3)
  assert.equal(gate.active, 3)
  assert.deepEqual([...new Set(refused.map(e => e.code))], ['too_many_uploads'])
  for (const release of ok) release()
  assert.equal(gate.active, 0)
})

test('a refusal for low disk gives the slot back', async () => {
  const gate = new UploadGate({ maxConcurrent: 1, lowWaterBytes: 100, mediaDir: os.tmpdir(), freeBytes: async () => 50 })
  await assert.rejects(gate.enter(), { code: 'insufficient_storage' })
  assert.equal(gate.active, 0)
})

test('resumable uploads that fit one at a time cannot both reserve room; room comes back as bytes arrive or uploads end', async () => {
  const GiB = 1024 ** 3
  const disk = slowDisk(10 * GiB)
  const gate = new UploadGate({ maxConcurrent: 10, lowWaterBytes: 4 * GiB, mediaDir: os.tmpdir(), freeBytes: disk.freeBytes })
  // 6 GiB above the low-water mark: one 4 GiB upload fits, two do not.
  const reserving = settle([gate.reserve(4 * GiB), gate.reserve(4 * GiB)])
  await new Promise(resolve => setImmediate(resolve))
  disk.answer()
  const { ok, refused } = await reserving
  assert.equal(ok.length, 1)
  assert.equal(refused.length, 1)
  assert.equal(refused[0]!.code, 'insufficient_storage')
  // What is left beside the reservation: 2 GiB over the mark.
  await assert.rejects(gate.reserve(2 * GiB + 1), { code: 'insufficient_storage' })
  // As the reserved upload's bytes arrive, the disk's free space goes down and its reservation with it.
  gate.release(3 * GiB)
  await gate.reserve(5 * GiB)
  gate.release(5 * GiB)
  gate.release(1 * GiB)
  await gate.reserve(6 * GiB)
  gate.release(6 * GiB)
})
