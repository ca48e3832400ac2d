/**
 * Playwright's global setup: one arlocal on ARLOCAL_PORT for the whole run, so the servers that
 * publish to it and index it (playwright.config.ts) see one chain from start to end. An arlocal
 * started again would be a new chain, and an indexer's stored cursor a place in the old one.
 */
import { ARLOCAL_PORT } from '../../playwright.config.ts'
import { startArlocal } from '../helpers/arlocal.ts'

export default async function arlocalSetup (): Promise<() => Promise<void>> {
  const arweave = await startArlocal(ARLOCAL_PORT)
  return async () => { await arweave.stop() }
}
