// The console in a real browser (Debian chromium via playwright-core) against a real server with 20 threads: a
// page that stays responsive with 20 jobs running, live rows for jobs created elsewhere, filters, search and
// pages, the detail dialog, retry and bulk cancel, and its layout at 1400 and 390 px, light and dark. With
// OFFLOAD_UPDATE_SCREENSHOTS=1 it writes the README's screenshots to docs/.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestServer, waitFor, type TestServer } from './helpers.js';

declare const document: any;
declare const getComputedStyle: any;

const UPDATE_SCREENSHOTS = process.env.OFFLOAD_UPDATE_SCREENSHOTS === '1';
const docs = (name: string) => fileURLToPath(new URL(`../../docs/${name}`, import.meta.url));

let server: TestServer;
let browser: Browser;
const problems: string[] = [];

before(async () => {
  server = await startTestServer({ args: ['--threads', '20'] });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function openConsole(options: Parameters<Browser['newPage']>[0] = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, ...options });
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(server.url + '/');
  await page.locator('#live.on').waitFor({ timeout: 10_000 });
  return page;
}

const post = (path: string, body: unknown) => server.request('POST', path, { body });

/** Run in the page: every visible element outside a horizontal scroller that reaches past the viewport. */
function findOverflow() {
  const width = document.documentElement.clientWidth;
  const wide: string[] = [];
  for (const node of document.querySelectorAll('body *')) {
    if (node.closest('dialog:not([open])') || (node.parentElement?.closest('.scroll-x'))) continue;
    const box = node.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 1 || box.left < -1) wide.push(`<${node.localName} id=${node.id} class=${node.getAttribute('class')}> ${Math.round(box.left)}…${Math.round(box.right)}`);
  }
  return { width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10) };
}

async function assertNoOverflow(page: Page, what: string) {
  const found = await page.evaluate(findOverflow);
  assert.ok(found.scrollWidth <= found.width, `${what}: the page scrolls sideways (${found.scrollWidth} > ${found.width})`);
  assert.deepEqual(found.wide, [], `${what}: elements wider than the ${found.width} px viewport`);
}

async function screenshot(page: Page, name: string) {
  const image = await page.screenshot({ type: 'png' });
  if (UPDATE_SCREENSHOTS) writeFileSync(docs(name), image);
}

test('20 running jobs: one event stream, a click answered within 1 s, a job made by curl appears, bulk cancel and retry', async () => {
  const requests: string[] = [];
  const page = await openConsole();
  page.on('request', (req) => requests.push(new URL(req.url()).pathname));
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await post('/jobs', { kind: 'slow-progress', payload: { steps: 600, stepMs: 100, n: i } })).body.job_id);
  await waitFor(async () => ((await page.locator('#jobs .status-running').count()) >= 20 ? true : undefined), 20_000, '20 running rows');
  assert.equal(server.engine.stats().busyThreads, 20);

  const started = Date.now();
  await page.locator(`#job-${ids[3]} button`, { hasText: 'Details' }).click();
  await page.locator('#detail[open] #detail-title').waitFor({ timeout: 1000 });
  assert.ok(Date.now() - started < 1000, `the detail dialog opened after ${Date.now() - started} ms`);
  await page.locator('#detail-body progress').waitFor();
  await waitFor(async () => ((await page.locator('#tab-running .count').innerText()) === '20' ? true : undefined), 3000, 'the running tab to count 20');
  const firstDone = await page.locator('#detail-body progress').getAttribute('value');
  await waitFor(async () => ((await page.locator('#detail-body progress').getAttribute('value')) !== firstDone ? true : undefined), 5000, 'live progress in the dialog');
  await screenshot(page, 'console-detail.png');
  await page.keyboard.press('Escape');

  // Every thread is busy: it waits, pending, on top of the list.
  const curl = (await post('/jobs', { kind: 'noop', payload: { from: 'curl' } })).body.job_id;
  await page.locator(`#job-${curl} .status-pending`).waitFor({ timeout: 5000 });
  assert.deepEqual([...new Set(requests.filter((p) => p.includes('events')))], [], 'no new stream was opened: the first one carried it all');

  await page.selectOption('#filter-kind', 'slow-progress');
  await page.click('#filter-form button:has-text("Apply")');
  await page.click('#bulk-cancel');
  assert.match(await page.locator('#confirm-text').innerText(), /kind = slow-progress/);
  await page.click('#confirm-yes');
  await waitFor(async () => ((await page.locator('#jobs .status-cancelled').count()) >= 20 ? true : undefined), 10_000, '20 cancelled rows');
  for (const id of ids) assert.equal((await server.engine.get(id))?.status, 'cancelled');
  await page.click('#filter-reset');
  await page.locator(`#job-${curl} .status-succeeded`).waitFor({ timeout: 5000 });

  await page.locator(`#job-${ids[0]} button`, { hasText: 'Retry' }).click();
  await page.locator(`#job-${ids[0]} .status-running`).waitFor({ timeout: 5000 });
  await server.request('DELETE', `/jobs/${ids[0]}`);
  await page.locator(`#job-${ids[0]} .status-cancelled`).waitFor({ timeout: 5000 });
  await page.close();
});

test('filters, search and pages; status tabs count; the detail of a failed job lists every attempt', async () => {
  const tag = `tag-${Date.now()}`;
  await Promise.all(Array.from({ length: 60 }, (_, i) => post('/jobs', { kind: 'echo', payload: { tag, i } })));
  const failed = (await post('/jobs', { kind: 'throws-retryable', payload: { tag }, max_attempts: 2 })).body.job_id;
  await server.waitForJob(failed);
  await waitFor(async () => ((await server.request('GET', `/jobs?kind=echo&status=succeeded&limit=500`)).body.jobs.length >= 60 ? true : undefined), 20_000, 'echo jobs');
  const page = await openConsole();
  await page.fill('#filter-q', tag);
  await page.click('#filter-form button:has-text("Apply")');
  await waitFor(async () => ((await page.locator('#jobs tr').count()) === 50 ? true : undefined), 5000, 'a first page of 50');
  await page.click('#more-jobs');
  await waitFor(async () => ((await page.locator('#jobs tr').count()) === 61 ? true : undefined), 5000, 'the second page');
  assert.equal(await page.locator('#more-jobs').isHidden(), true);

  await page.click('#filter-reset');
  await page.click('#tab-failed');
  await page.locator(`#job-${failed}`).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#jobs tr').count(), await page.locator('#jobs .status-failed').count());
  assert.match(await page.locator('#tab-failed .count').innerText(), /^[1-9]/);
  await page.locator(`#job-${failed} button`, { hasText: 'Details' }).click();
  const attempts = page.locator('#detail-attempts tr');
  await waitFor(async () => ((await attempts.count()) === 2 ? true : undefined), 5000, 'two attempts');
  assert.match(await attempts.nth(0).innerText(), /retried[\s\S]*task_error/);
  assert.match(await page.locator('#detail-body').innerText(), new RegExp(tag));
  await page.keyboard.press('Escape');
  await page.click('#tab-all');
  await page.close();
});

test('schedules: listed with timing, next due, last run and state; Pause and Resume', async () => {
  const every = (await post('/schedules', { name: 'every second', interval_ms: 1000, job: { kind: 'noop' } })).body;
  const nightly = (await post('/schedules', { name: 'nightly', cron: '30 2 * * *', time_zone: 'Europe/Berlin', job: { kind: 'noop' }, paused: true })).body;
  await waitFor(async () => ((await server.request('GET', `/schedules/${every.schedule_id}`)).body.last_run ? true : undefined), 10_000, 'a first run');
  const page = await openConsole();
  const row = page.locator(`#schedule-${every.schedule_id}`);
  await row.waitFor({ timeout: 5000 });
  assert.match(await row.innerText(), /every second[\s\S]*noop[\s\S]*every 1\.0 s[\s\S]*active/);
  assert.notEqual((await row.locator('.last-run').innerText()).trim(), 'never');
  assert.notEqual((await row.locator('.next-due').innerText()).trim(), '');
  assert.match(await page.locator(`#schedule-${nightly.schedule_id}`).innerText(), /30 2 \* \* \* \(Europe\/Berlin\)[\s\S]*paused/);
  await row.locator('button', { hasText: 'Pause' }).click();
  await row.locator('.status-paused').waitFor({ timeout: 5000 });
  assert.equal((await server.request('GET', `/schedules/${every.schedule_id}`)).body.paused, true);
  await row.locator('button', { hasText: 'Resume' }).click();
  await row.locator('.status-active').waitFor({ timeout: 5000 });
  await row.locator('.last-run button').click();
  await page.locator('#detail[open] #detail-title', { hasText: 'noop' }).waitFor({ timeout: 5000 });
  await page.keyboard.press('Escape');
  await server.request('PATCH', `/schedules/${every.schedule_id}`, { body: { paused: true } });
  await page.close();
});

test('layout at 1400 and 390 px: nothing wider than the viewport; dark mode; favicon; keyboard focus', async () => {
  const csv = 'id,name,city,score,active\n' + Array.from({ length: 200 }, (_, i) => `${i},name ${i},city ${i % 7},${i / 4},${i % 2 === 0}`).join('\n') + '\n';
  const upload = await server.request('POST', '/datasets?name=customers', { rawBody: csv, headers: { 'content-type': 'text/csv' } });
  await server.waitForJob(upload.body.job_id);
  const exported = await post('/exports', { dataset_id: upload.body.id, format: 'parquet' });
  await server.waitForJob(exported.body.job_id);
  await post('/jobs', { kind: 'throws', payload: {}, max_attempts: 1 });

  const wide = await openConsole();
  await wide.locator(`#dataset-${upload.body.id} button`, { hasText: 'Preview' }).click();
  await wide.locator('#preview table.preview tbody tr').first().waitFor();
  assert.equal(await wide.locator('#preview tbody tr').count(), 20);
  await wide.locator(`#export-${exported.body.job_id}`, { hasText: 'parquet' }).waitFor();
  assert.match(await wide.locator(`#export-${exported.body.job_id}`).innerText(), /customers[\s\S]*KB[\s\S]*200 rows/);
  await wide.locator('#chart-throughput svg rect').first().waitFor();
  await assertNoOverflow(wide, '1400 px');
  await screenshot(wide, 'console-jobs.png');
  await wide.locator('#charts').scrollIntoViewIfNeeded();
  await wide.evaluate(() => document.getElementById('charts').scrollIntoView());
  await screenshot(wide, 'console-charts.png');
  await wide.keyboard.press('Tab');
  assert.notEqual(await wide.evaluate(() => document.activeElement?.localName), 'body', 'Tab moves the focus into the page');
  await wide.close();

  const narrow = await openConsole({ viewport: { width: 390, height: 844 } });
  await narrow.locator('#jobs tr').first().waitFor();
  await narrow.locator(`#dataset-${upload.body.id} button`, { hasText: 'Preview' }).click();
  await narrow.locator('#preview tbody tr').first().waitFor();
  await assertNoOverflow(narrow, '390 px');
  await screenshot(narrow, 'console-mobile.png');
  await narrow.locator('#jobs tr button', { hasText: 'Details' }).first().click();
  await narrow.locator('#detail[open] #detail-title').waitFor();
  await assertNoOverflow(narrow, '390 px with the detail dialog');
  await narrow.close();

  const dark = await openConsole({ colorScheme: 'dark' });
  assert.equal(await dark.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(18, 21, 27)');
  assert.equal(await dark.evaluate(() => getComputedStyle(document.querySelector('section')).backgroundColor), 'rgb(27, 32, 41)');
  await dark.locator('#chart-throughput svg rect').first().waitFor();
  await screenshot(dark, 'console-dark.png');
  const icon = await dark.evaluate(async () => (await fetch('/favicon.ico')).headers.get('content-type'));
  assert.equal(icon, 'image/svg+xml');
  await dark.close();
  assert.deepEqual(problems, [], 'no script errors on the page');
});
