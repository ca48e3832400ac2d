/** The share dialog's checks (web/lib/shareInput.ts): a recipient's key and an expiry, before the server is asked. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { expiryOf, recipientKeyProblem } from '../../web/lib/shareInput.ts'
import { newIdentity } from '../helpers/auth.ts'

test('recipientKeyProblem: a compressed secp256k1 key passes (any case, spaces around); a typo, a point off the curve, nothing or my own key are named', async () => {
  const me = await newIdentity()
  const them = await newIdentity()
  assert.equal(recipientKeyProblem(them.publicKey, me.publicKey), undefined)
  assert.equal(recipientKeyProblem(`  ${them.publicKey.toUpperCase()}\n`, me.publicKey), undefined)
  assert.match(recipientKeyProblem('', me.publicKey)!, /Paste the public key/)
  assert.match(recipientKeyProblem(them.publicKey.slice(0, 65), me.publicKey)!, /not a public key/)
  assert.match(recipientKeyProblem(`04${them.publicKey.slice(2)}`, me.publicKey)!, /not a public key/)
  // x = 5 has the right shape, but x³ + 7 has no square root: no point of the curve.
  assert.match(recipientKeyProblem(`02${'00'.repeat(31)}05`, me.publicKey)!, /not a public key/)
  assert.match(recipientKeyProblem(me.publicKey, me.publicKey)!, /your own key/)
})

test('expiryOf: empty shares until revoked; a future local time becomes ISO; a past or unreadable one is refused', () => {
  const now = Date.parse('2026-12-01T12:00:00Z')
  assert.deepEqual(expiryOf('', now), { expiresAt: null })
  const later = new Date(now + 86_400_000)
  const local = `${later.getFullYear()}-${String(later.getMonth() + 1).padStart(2, '0')}-${String(later.getDate()).padStart(2, '0')}T${String(later.getHours()).padStart(2, '0')}:${String(later.getMinutes()).padStart(2, '0')}`
  assert.deepEqual(expiryOf(local, now), { expiresAt: later.toISOString() })
  assert.match((expiryOf('2020-01-01T00:00', now) as { problem: string }).problem, /in the past/)
  assert.match((expiryOf('next tuesday', now) as { problem: string }).problem, /not a date and time/)
})
