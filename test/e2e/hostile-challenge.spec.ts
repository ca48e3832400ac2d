import { expect, test, type Page } from '@playwright/test'
import { canonicalRecord, type OipMediaRecord } from '../../shared/record.ts'
import { signInMessage } from '../../shared/signInMessage.ts'
import { createWallet, fileOf } from './helpers.ts'

// A hostile (or compromised) server answers the sign-in challenge with something else to sign.
const NONCE = '0123456789abcdef0123456789abcdef'
const minutes = (n: number): Date => new Date(Date.now() + n * 60_000)

const record = (ownerKey: string): OipMediaRecord => ({
  type: 'media',
  basic: { name: 'Not mine', description: '', date: 1764072000, language: 'en', tagItems: [] },
  media: { mediaId: 'a'.repeat(64), bittorrentAddress: `magnet:?xt=urn:btih:${'b'.repeat(40)}`, httpUrl: `https://evil.example/api/media/${'a'.repeat(64)}`, contentType: 'video/mp4', size: 1 },
  accessControl: { access_level: 'public', owner_public_key: ownerKey }
})

const hostile: Array<[string, (origin: string) => string, RegExp]> = [
  // The owner key is not known before the wallet exists; any key shows the point: JSON, not a sign-in.
  ["a record's canonical JSON", () => canonicalRecord(record(`02${'11'.repeat(32)}`)), /It does not start with "OIP sign-in v1"/],
  ["another origin's sign-in", () => signInMessage({ origin: 'https://evil.example', nonce: NONCE, issuedAt: minutes(0), expiresAt: minutes(5) }), /It is for "https:\/\/evil\.example"/],
  ['an expired sign-in', origin => signInMessage({ origin, nonce: NONCE, issuedAt: minutes(-20), expiresAt: minutes(-15) }), /It expired at/]
]

/** Every request the page makes to /api/auth/verify. */
function verifyPosts (page: Page): string[] {
  const posts: string[] = []
  page.on('request', req => { if (new URL(req.url()).pathname === '/api/auth/verify') posts.push(req.postData() ?? '') })
  return posts
}

for (const [what, message, reason] of hostile) {
  test(`the wallet signs nothing when the challenge is ${what}, and says so`, async ({ page, baseURL }) => {
    const origin = new URL(baseURL!).origin
    await page.route('**/api/auth/challenge', route => route.fulfill({ json: { nonce: NONCE, message: message(origin), expiresAt: minutes(5).toISOString() } }))
    const posts = verifyPosts(page)
    await createWallet(page)
    const alert = page.getByTestId('session-error')
    await expect(alert).toContainText(`This server asked for a signature that is not a sign-in for ${origin}; nothing was signed.`)
    await expect(alert).toContainText(reason)
    // Anything that needs the server asks for a challenge again, and is refused again.
    const file = fileOf('clip.bin', 10_000, 3)
    await page.getByTestId('file-input').setInputFiles(file)
    await expect(page.getByTestId('file-row')).toHaveAttribute('data-phase', 'failed', { timeout: 30_000 })
    await expect(page.getByTestId('file-row')).toContainText('nothing was signed')
    expect(posts).toEqual([])
  })
}

test('an honest challenge signs in: no alert, and verify is posted once', async ({ page }) => {
  const posts = verifyPosts(page)
  await createWallet(page)
  await expect(page.getByTestId('empty')).toBeVisible()
  await expect(page.getByTestId('session-error')).toHaveCount(0)
  expect(posts).toHaveLength(1)
  expect(JSON.parse(posts[0]!).signature).toMatch(/^[A-Za-z0-9+/]{86}[AEIMQUYcgkosw048]=$/)
})
