import { expect, test } from '@playwright/test'

test('the dashboard shows the server\'s seeding totals, limits and trackers', async ({ page, request }) => {
  await page.goto('/#/dashboard')
  const stats = await (await request.get('/api/seeder/stats')).json()
  await expect(page.getByTestId('seeding-count')).toHaveText(String(stats.seedingCount))
  // The embedded tracker, over WebSocket and HTTP.
  await expect(page.getByTestId('tracker-row')).toHaveCount(stats.trackers.length)
  expect(stats.trackers.length).toBeGreaterThanOrEqual(2)
  await expect(page.getByText('Limits: up unlimited')).toBeVisible()
})
