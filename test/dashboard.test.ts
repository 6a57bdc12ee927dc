// The dashboard in a real browser (Debian chromium, driven by playwright-core) against a real server.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { makeTempDir, startTestServer, waitFor, type TestServer } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
let server: TestServer;
let browser: Browser;

before(async () => {
  // The README's test command runs in CI, whose .ci/run installs chromium; a missing browser is a failure.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  server = await startTestServer({ args: ['--token', 'dashboard-secret'] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('upload a dataset, export it with live progress, download the file, and cancel a job — from the page', async () => {
  const page = await browser.newPage({ acceptDownloads: true });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));

  await page.goto(server.url + '/');
  // The page is served without the token and asks for it when the API says 401.
  await page.locator('#token-section').waitFor({ state: 'visible' });
  await page.fill('#token', 'dashboard-secret');
  await page.click('#token-form button');

  const csv = join(makeTempDir(), 'people.csv');
  writeFileSync(csv, 'id,name,score\n' + Array.from({ length: 2000 }, (_, i) => `${i},"name ${i}",${i / 10}`).join('\n') + '\n');
  await page.setInputFiles('#upload-file', csv);
  await page.click('#upload-form button');
  const row = page.locator('#datasets tr', { hasText: 'people.csv' });
  await row.locator('.status-ready').waitFor({ timeout: 20_000 });
  assert.match(await row.innerText(), /2000/);
  assert.match(await row.innerText(), /score:real/);

  await row.locator('select').selectOption('ndjson');
  await row.locator('button', { hasText: 'Export' }).click();
  const exportRow = page.locator('#jobs tr', { hasText: 'export' }).first();
  await exportRow.locator('.status-succeeded').waitFor({ timeout: 20_000 });
  assert.match(await exportRow.innerText(), /100%/, 'the progress bar reached the end through SSE');

  const [download] = await Promise.all([page.waitForEvent('download'), exportRow.locator('button', { hasText: 'Download' }).click()]);
  assert.equal(download.suggestedFilename(), 'people.ndjson');
  const saved = join(makeTempDir(), 'download.ndjson');
  await download.saveAs(saved);
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(saved, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2000);
  assert.deepEqual(JSON.parse(lines[1]!), { id: 1, name: 'name 1', score: 0.1 });

  // A job that never ends on its own, cancelled from its row.
  const hang = await server.request('POST', '/jobs', { body: { kind: 'hang', payload: {} }, headers: { Authorization: 'Bearer dashboard-secret' } });
  await page.reload();
  const hangRow = page.locator(`#job-${hang.body.job_id}`);
  await hangRow.locator('button', { hasText: 'Cancel' }).click();
  await hangRow.locator('.status-cancelled').waitFor({ timeout: 10_000 });
  await waitFor(async () => ((await server.engine.get(hang.body.job_id))?.status === 'cancelled' ? true : undefined), 5000, 'the job to be cancelled');

  assert.deepEqual(problems, [], 'no script errors on the page');
  await page.close();
});
