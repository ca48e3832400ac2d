/**
 * Where a record lives on the OIP network and how far it got there (issue #22's shared
 * contract): public records go to Arweave, private ones to GUN. The owner's record answers
 * (`GET /api/records`, My files) carry it as `publication`.
 */
export type PublicationNetwork = 'arweave' | 'gun'

export type PublicationState = 'queued' | 'posted' | 'confirmed' | 'failed'

export interface Publication {
  network: PublicationNetwork
  /** The record it is of (what Retry names). */
  recordId?: string
  state: PublicationState
  /** `did:arweave:<itemId>` or `did:gun:<soul>`, once it is out there. */
  did?: string
  /** Why the last attempt failed (state `failed`: it is tried again by itself, or with Retry). */
  error?: string
  attempts: number
  /** ISO time of the last change. */
  updatedAt: string
}

/** `GET /api/network`: which networks this server publishes records to. */
export interface NetworkInfo {
  arweave: { publishing: boolean }
  gun: { publishing: boolean }
}
