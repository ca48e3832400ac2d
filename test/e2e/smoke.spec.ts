import { expect, test } from '@playwright/test'

test('the app shell loads from the server', async ({ page }) => {
  await page.goto('/')
  await expect(page).toHaveTitle(/OIP Media Seeder/)
  await expect(page.locator('h1', { hasText: 'OIP Media Seeder' })).toBeVisible()

  const res = await page.request.get('/api/seeder/stats')
  expect(res.status()).toBe(200)
  expect(res.headers()['content-type']).toContain('application/json')
  const stats = await res.json()
  expect(typeof stats.seedingCount).toBe('number')
})
