/**
 * A public file published to the OIP network from the browser: its record's data item, signed
 * in the page by the owner's key, bundled by the server (PUBLISHING_URL) onto arlocal, found in
 * arlocal's GraphQL with the OIP tags and the owner's signature verifying; the row shows it
 * confirmed with its DID.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { expect, test } from '@playwright/test'
import { ARLOCAL_URL, PUBLISHING_URL, PUBLISHING_WALLET } from '../../playwright.config.ts'
import { itemOwnerOf } from '../../shared/oipDataItem.ts'
import { fromOipNetwork, oipTags } from '../../shared/oipNetworkRecord.ts'
import { verifyRecord } from '../../shared/signing.ts'
import { identityFromMnemonic } from '../../shared/wallet.ts'
import { addressOfOwner, arlocalClient } from '../helpers/arlocal.ts'
import { createWallet, fileOf } from './helpers.ts'

// The run's arlocal (test/e2e/arlocalSetup.ts).
const arweave = arlocalClient(ARLOCAL_URL)

test('a public file published to the OIP network: its item in arlocal\'s GraphQL with the OIP tags and the owner\'s signature, the row confirmed with its DID', async ({ browser }) => {
  test.setTimeout(120_000)
  const jwk = JSON.parse(fs.readFileSync(PUBLISHING_WALLET, 'utf8'))
  await arweave.mint(addressOfOwner(Buffer.from(jwk.n, 'base64url')))
  const context = await browser.newContext({ baseURL: PUBLISHING_URL })
  const page = await context.newPage()
  const me = await identityFromMnemonic((await createWallet(page)).join(' '))

  // On by default for a public file on a server that publishes to Arweave; this one does not publish to GUN.
  const option = page.getByTestId('publish-to-network')
  await expect(option).toBeChecked()
  await page.getByTestId('private').check()
  await expect(option).toBeDisabled()
  await expect(option).not.toBeChecked()
  await page.getByLabel(/Public/).check()
  await expect(option).toBeChecked()
  // Said before anything is sent: it is for good.
  await expect(page.getByTestId('publish-note')).toContainText('On Arweave for good')
  await expect(option).toHaveAttribute('aria-describedby', 'publish-note')

  // How long the item takes to make in the page (its chunk loaded, signed), and the longest main-thread task meanwhile.
  await page.evaluate(() => {
    (window as any).longest = 0
    new PerformanceObserver(list => { for (const e of list.getEntries()) (window as any).longest = Math.max((window as any).longest, e.duration) }).observe({ type: 'longtask', buffered: false })
  })
  const recordPosted = page.waitForResponse(r => /\/api\/records$/.test(r.url()) && r.request().method() === 'POST')
  const itemPosted = page.waitForRequest(r => /\/api\/records\/[0-9a-f]{64}\/arweave$/.test(r.url()))
  const file = fileOf('harbour.bin', 100_000, 7)
  await page.getByTestId('file-input').setInputFiles(file)
  await recordPosted
  const from = Date.now()
  const item = await itemPosted
  console.log(`signed data item in the page: ${Date.now() - from} ms after the record was stored, ${item.postDataBuffer()?.length} bytes; longest main-thread task ${await page.evaluate(() => (window as any).longest)} ms`)

  const row = page.locator(`[data-media-id="${createHash('sha256').update(file.buffer).digest('hex')}"]`)
  const state = row.getByTestId('publication')
  await expect(state).toHaveAttribute('data-state', 'posted', { timeout: 60_000 })
  await arweave.mine()
  await expect(state).toHaveAttribute('data-state', 'confirmed', { timeout: 60_000 })
  const did = (await row.getByTestId('did').innerText()).trim()
  expect(did).toMatch(/^did:arweave:[\w-]{43}$/)
  const itemId = did.slice('did:arweave:'.length)

  const { transactions } = await arweave.graphql<{ transactions: { edges: Array<{ node: { id: string, owner: { key: string }, tags: Array<{ name: string, value: string }> } }> } }>(
    `{ transactions(ids: ["${itemId}"]) { edges { node { id owner { key } tags { name value } } } } }`)
  expect(transactions.edges).toHaveLength(1)
  const found = transactions.edges[0]!.node
  const tag = (name: string): string | undefined => found.tags.find(t => t.name === name)?.value
  expect(tag('Index-Method')).toBe('OIP')
  expect(tag('Type')).toBe('Record')
  expect(tag('Creator')).toBe(me.publicKey)
  expect(found.owner.key).toBe(Buffer.from(itemOwnerOf(me.publicKey)).toString('base64url'))
  const record = fromOipNetwork(JSON.parse(await arweave.data(itemId)))
  expect(record.accessControl.owner_public_key).toBe(me.publicKey)
  expect(verifyRecord(record, tag('Owner-Signature'))).toBe(true)
  expect(found.tags).toEqual(oipTags(record, tag('Owner-Signature')!))

  // My files shows the same.
  await page.getByRole('link', { name: 'My files' }).click()
  const mine = page.getByTestId('server-file').filter({ hasText: 'harbour.bin' })
  await expect(mine.getByTestId('publication')).toHaveAttribute('data-state', 'confirmed')
  await expect(mine.getByTestId('did')).toHaveText(did)
  // Verify reads the item back from the gateway (through the server) and checks it here.
  await mine.getByTestId('publication-verify').click()
  const verdict = mine.getByTestId('verify-result')
  await expect(verdict).toHaveAttribute('data-ok', 'true')
  await expect(verdict).toContainText(`Verified: item ${itemId}, as this server read it from the gateway, is your record "harbour.bin" with your signature.`)
  // Deleting it, making it private or editing it here leaves the record on Arweave: each dialog says so.
  for (const [action, dialog] of [['delete', /^Delete /], ['change-access', /^Make /], ['edit', /^Edit /]] as const) {
    await mine.getByTestId(action).click()
    const open = page.getByRole('dialog', { name: dialog })
    await expect(open.getByTestId('arweave-stays')).toContainText('on Arweave for good')
    await page.keyboard.press('Escape')
    await expect(open).toBeHidden()
  }
  await context.close()
})
