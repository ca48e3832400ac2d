import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signRecord } from '../../shared/signing.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { recordVerdict } from '../../web/lib/recordVerdict.ts'
import { oipRecordOf } from '../helpers/oipItems.ts'

const owner = await identityFromMnemonic('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about')
const other = await identityFromMnemonic('legal winner thank year wave sausage worth useful legal winner thank yellow')

test('Verify: a record signed by its owner says so, with the whole key', () => {
  const record = oipRecordOf(owner, 'harbour')
  assert.deepEqual(recordVerdict({ record, signature: signRecord(record, owner.privateKey), signatureFormat: 'bitcoin-message-v1' }), { ok: true, text: `Signed by ${owner.publicKey}` })
})

test('Verify: a record changed after signing, or signed by another key, fails and says not to trust it', () => {
  const record = oipRecordOf(owner, 'harbour')
  const changed = { ...record, basic: { ...record.basic, name: 'Other.mp4' } }
  for (const [r, signature] of [[changed, signRecord(record, owner.privateKey)], [record, signRecord(record, other.privateKey)], [record, 'not a signature']] as const) {
    const verdict = recordVerdict({ record: r, signature, signatureFormat: 'bitcoin-message-v1' })
    assert.equal(verdict.ok, false)
    assert.match(verdict.text, new RegExp(`not signed by ${owner.publicKey}.*Do not trust it`))
  }
})

test('Verify: a legacy signature is named as such, not passed', () => {
  const record = oipRecordOf(owner, 'harbour')
  assert.deepEqual(recordVerdict({ record, signature: 'ab'.repeat(64), signatureFormat: 'legacy-raw-sha256' }).ok, false)
})
