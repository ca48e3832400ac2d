/**
 * The record a publish or Retry request names, checked the same way for either network: the
 * network is on, the caller is signed in and owns the record, and the record has the access
 * level that network carries (public → Arweave, private → GUN). Otherwise the error that says why.
 */
import { AppError, badRequest, loginRequired } from '../../shared/errors.ts'
import type { Caller } from '../access/accessPolicy.ts'
import type { OipRecordRepository, OipRecordRow } from '../records/oipRecordRepository.ts'

export interface NetworkRule {
  /** As users read it: 'Arweave', 'GUN'. */
  name: string
  /** Whether the operator turned it on, and with what. */
  enabled: boolean
  setting: string
  /** The one access level it carries, and the 400 for the other. */
  accessLevel: 'public' | 'private'
  wrongAccess: { code: string, message: string }
}

const RECORD_ID = /^[0-9a-f]{64}$/

export async function recordToPublish (records: Pick<OipRecordRepository, 'get'>, rule: NetworkRule, caller: Caller, recordId: string): Promise<OipRecordRow> {
  if (!rule.enabled) {
    throw new AppError(409, 'not_publishing', `This server does not publish to ${rule.name} (its operator has not set ${rule.setting}). Your record is kept here; nothing was sent.`)
  }
  if (caller === undefined) throw loginRequired()
  const row = RECORD_ID.test(recordId) ? await records.get(recordId) : undefined
  // Someone else's private record looks like a missing one.
  if (!row || (row.accessLevel === 'private' && row.owner !== caller)) {
    throw new AppError(404, 'not_found', 'No record with this id. Check the id, or publish the record first (POST /api/records).')
  }
  if (row.owner !== caller) throw new AppError(403, 'not_owner', `Only the record's owner publishes it to ${rule.name}: sign in with the key that signed it.`)
  if (row.accessLevel !== rule.accessLevel) throw badRequest(rule.wrongAccess.code, rule.wrongAccess.message)
  return row
}
