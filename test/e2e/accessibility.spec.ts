/**
 * Phone-sized and accessible (#21): an axe audit (WCAG 2.1 A and AA) of every view at a desktop's
 * size and a phone's, in the light and the dark theme (My files' dialogs open, and a visitor's share
 * page without a wallet too); at phone size no sideways scroll and 44 px touch targets, links
 * included; keyboard-only journeys with visible focus; no animation for reduced motion.
 * One browser context per size (a wallet and a file each); the colour scheme is switched in it.
 */
import { createHash } from 'node:crypto'
import { AxeBuilder } from '@axe-core/playwright'
import { expect, test, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test'
import { createWallet, fileOf } from './helpers.ts'

const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const SCHEMES = ['light', 'dark'] as const

/** The views, each opened by its hash, `act`ed on if it says so, and ready once `ready` shows. */
const views = (mediaId: string): Array<{ name: string, hash: string, act?: (page: Page) => Promise<void>, ready: (page: Page) => Locator }> => [
  { name: 'library', hash: '#/', ready: page => page.locator(`[data-testid=file-row][data-media-id="${mediaId}"][data-phase=seeding]`) },
  { name: 'share', hash: `#/m/${mediaId}`, ready: page => page.getByTestId('in-library') },
  { name: 'dashboard', hash: '#/dashboard', ready: page => page.getByTestId('seeding-count') },
  { name: 'my-files', hash: '#/my-files', ready: page => page.locator(`[data-testid=server-file][data-media-id="${mediaId}"]`) },
  { name: 'shared-with-me', hash: '#/shared', ready: page => page.getByTestId('my-public-key') },
  // The file's signed record found, and its Verify pressed: the verdict is audited too.
  { name: 'search', hash: '#/search', act: async page => await page.getByTestId('verify').first().click(), ready: page => page.getByTestId('verdict').first() }
]

/** Serious and critical WCAG 2.1 A/AA violations on the page, as "rule: target" lines. */
async function violations (page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .flatMap(v => v.nodes.map(n => `${v.id}: ${n.target.join(' ')} (${n.failureSummary?.split('\n')[1]?.trim() ?? ''})`))
}

/** Visible controls under 44 px tall: buttons, text inputs, selects, links; a radio or checkbox counts by its label. */
function smallTargets (page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = [...document.querySelectorAll<HTMLElement>('button, input, select, textarea, [role=button], a[href]')]
      .map(el => (el instanceof HTMLInputElement && (el.type === 'radio' || el.type === 'checkbox')) ? el.closest('label') ?? el : el)
    return controls.filter(el => {
      const box = el.getBoundingClientRect()
      return box.width > 0 && box.height > 0 && box.height < 44
    }).map(el => `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || el.getAttribute('placeholder') || '').trim().slice(0, 30)}" ${Math.round(el.getBoundingClientRect().height)} px`)
  })
}

/** What the page shows wrong in both schemes: axe's findings, and at phone size a sideways scroll and small targets. */
async function audit (page: Page, viewport: typeof DESKTOP): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {}
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme })
    const problems = await violations(page)
    if (viewport === PHONE) {
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }))
      if (scrollWidth > clientWidth) problems.push(`scrolls sideways: ${scrollWidth} > ${clientWidth}`)
      problems.push(...await smallTargets(page))
    }
    found[colorScheme] = problems
  }
  await page.emulateMedia({ colorScheme: 'light' })
  return found
}

const freshContext = (browser: Browser, baseURL: string, viewport: typeof DESKTOP): Promise<BrowserContext> =>
  browser.newContext({ baseURL, viewport, hasTouch: viewport === PHONE })

/** The dialogs My files opens from a file's row, each ready once `ready` shows in it. */
const dialogs: Array<{ button: string, ready: (dialog: Locator) => Locator }> = [
  { button: 'share', ready: dialog => dialog.getByTestId('share-qr').locator('svg') },
  { button: 'edit', ready: dialog => dialog.getByTestId('edit-name') },
  { button: 'change-access', ready: dialog => dialog.getByTestId('confirm-access') },
  { button: 'delete', ready: dialog => dialog.getByTestId('confirm-delete') }
]

/** A fresh context with a wallet and one public file seeding in its library. */
async function contextWithFile (browser: Browser, baseURL: string, viewport: typeof DESKTOP, seed: number): Promise<{ page: Page, mediaId: string, welcome: Record<string, string[]> }> {
  const page = await (await freshContext(browser, baseURL, viewport)).newPage()
  // The welcome view, audited before the wallet exists.
  await page.goto('/')
  await expect(page.getByRole('button', { name: 'Create a new wallet' })).toBeVisible()
  const welcome = await audit(page, viewport)
  await createWallet(page)
  const file = fileOf('accessible.bin', 20_000, seed)
  await page.getByTestId('file-input').setInputFiles(file)
  return { page, mediaId: createHash('sha256').update(file.buffer).digest('hex'), welcome }
}

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
  test(`every view at ${viewport.width}×${viewport.height}, light and dark, has no serious or critical axe violation${viewport === PHONE ? ', no sideways scroll and 44 px targets' : ''}`, async ({ browser, baseURL }) => {
    test.setTimeout(120_000)
    const { page, mediaId, welcome } = await contextWithFile(browser, baseURL!, viewport, size === 'desktop' ? 901 : 902)
    const found: Record<string, string[]> = {}
    const note = (name: string, audited: Record<string, string[]>): void => {
      for (const [colorScheme, problems] of Object.entries(audited)) found[`${name} ${colorScheme}`] = problems
    }
    note('welcome', welcome)
    for (const view of views(mediaId)) {
      await page.goto(`/${view.hash}`)
      await view.act?.(page)
      await expect(view.ready(page)).toBeVisible({ timeout: 60_000 })
      note(view.name, await audit(page, viewport))
    }
    // Each of My files' dialogs, open.
    await page.goto('/#/my-files')
    const row = page.locator(`[data-testid=server-file][data-media-id="${mediaId}"]`)
    for (const { button, ready } of dialogs) {
      await row.getByTestId(button).click()
      const dialog = page.getByRole('dialog')
      await expect(ready(dialog)).toBeVisible()
      note(`my-files ${button} dialog`, await audit(page, viewport))
      await page.keyboard.press('Escape')
      await expect(dialog).toBeHidden()
    }
    // The dark theme is really dark: the page's ground, not the light one.
    await page.emulateMedia({ colorScheme: 'dark' })
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(17, 21, 28)')

    // A visitor's share page: a fresh browser without a wallet.
    const visitor = await freshContext(browser, baseURL!, viewport)
    const visit = await visitor.newPage()
    await visit.goto(`/#/m/${mediaId}`)
    await expect(visit.getByTestId('download')).toBeVisible()
    note("a visitor's share page", await audit(visit, viewport))
    await visitor.close()
    expect(found).toEqual(Object.fromEntries(Object.keys(found).map(k => [k, []])))
  })
}

/** Tab until `target` has the focus; every stop on the way shows a solid outline of 2 px or more. */
async function tabTo (page: Page, target: Locator): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab')
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement
      const style = getComputedStyle(el)
      return { what: el.outerHTML.slice(0, 80), style: style.outlineStyle, width: parseFloat(style.outlineWidth) }
    })
    expect(ring.style, `focus ring on ${ring.what}`).toBe('solid')
    expect(ring.width, `focus ring on ${ring.what}`).toBeGreaterThanOrEqual(2)
    if (await target.evaluate(el => el === document.activeElement)) return
  }
  throw new Error('Tab never reached the target')
}

/** Add a public file from the library and wait until this tab seeds it; its row. */
async function seeding (page: Page, name: string, seed: number): Promise<{ mediaId: string, row: Locator }> {
  const file = fileOf(name, 20_000, seed)
  const mediaId = createHash('sha256').update(file.buffer).digest('hex')
  await page.getByTestId('file-input').setInputFiles(file)
  const row = page.locator(`[data-testid=file-row][data-media-id="${mediaId}"]`)
  await expect(row).toHaveAttribute('data-phase', 'seeding', { timeout: 60_000 })
  return { mediaId, row }
}

test('keyboard only: Tab reaches the file picker and a row\'s Share link with a visible focus ring, Enter opens the dialog, Escape closes it and the focus returns', async ({ page }) => {
  await page.setViewportSize(DESKTOP)
  await createWallet(page)
  const { row } = await seeding(page, 'by-keyboard.bin', 903)
  await page.goto('/#/')
  await page.locator('body').focus()

  // Listening well before Enter: Playwright starts intercepting the file chooser asynchronously.
  const chooser = page.waitForEvent('filechooser')
  await tabTo(page, page.getByTestId('dropzone'))
  await page.keyboard.press('Enter')
  await chooser

  const share = row.getByTestId('share-link-open')
  await tabTo(page, share)
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: 'Share by-keyboard.bin' })
  await expect(dialog).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(dialog).toBeHidden()
  await expect(share).toBeFocused()
})

test('keyboard only on My files: from the top of the page, Tab alone reaches a file\'s Edit, Share and Delete; Enter opens each dialog, Escape closes it and the focus returns', async ({ page }) => {
  await page.setViewportSize(DESKTOP)
  await createWallet(page)
  const { mediaId } = await seeding(page, 'my-files-by-keyboard.bin', 904)
  await page.goto('/#/my-files')
  const row = page.locator(`[data-testid=server-file][data-media-id="${mediaId}"]`)
  await expect(row).toBeVisible()
  for (const [button, title] of [['edit', 'Edit my-files-by-keyboard.bin'], ['share', 'Share my-files-by-keyboard.bin'], ['delete', 'Delete my-files-by-keyboard.bin from the server?']] as const) {
    await tabTo(page, row.getByTestId(button))
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: title })
    await expect(dialog).toBeVisible()
    await page.keyboard.press('Escape')
    await expect(dialog).toBeHidden()
    await expect(row.getByTestId(button)).toBeFocused()
  }
})

test('reduced motion: a toast slides in, but not when the system asks for less motion', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  await createWallet(page)
  await page.goto('/#/shared')
  /** The animation of the toast that Copy my key brings. */
  const toastAnimation = async (): Promise<string> => {
    await page.getByTestId('copy-key').click()
    const toast = page.getByTestId('toast')
    const name = await toast.evaluate(el => getComputedStyle(el).animationName)
    await toast.getByRole('button', { name: 'Dismiss' }).click()
    await expect(toast).toHaveCount(0)
    return name
  }
  await page.emulateMedia({ reducedMotion: 'no-preference' })
  expect(await toastAnimation()).not.toBe('none')
  await page.emulateMedia({ reducedMotion: 'reduce' })
  expect(await toastAnimation()).toBe('none')
})
