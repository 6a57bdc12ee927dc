// The dashboard in a real browser (Debian chromium, driven by playwright-core) against a real server.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTempDir, startTestServer, waitFor, type TestServer } from './helpers.js';

// Globals of the page, for the functions that page.evaluate runs there (the tsconfig has no DOM lib).
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;

const CHROMIUM = '/usr/bin/chromium';
// Written out here rather than imported, so that a looser policy in the code fails the test.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

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

/**
 * Every CSP violation in the page, across reloads: the `securitypolicyviolation` events, reported through a binding
 * from a script the browser itself runs in each document before the page's own (which the CSP does not apply to),
 * and Chromium's console messages for violations (framing is reported there, in the parent).
 */
async function recordCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(`console: ${message.text()}`);
  });
  await page.exposeFunction('reportCspViolation', (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event: any) =>
      window.reportCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'}: ${event.sample}`));
  });
  return violations;
}

/**
 * Run in a page: tries each kind of inline code an injection could use, and resolves to the kinds that took effect.
 * eval and new Function are tried from a timer: code that page.evaluate runs itself is exempt from the CSP's eval check.
 */
function tryInlineCode(): Promise<string[]> {
  window.ran = [];
  const script = document.createElement('script');
  script.textContent = "window.ran.push('inline <script>')";
  document.body.append(script);
  const handler = document.createElement('div');
  handler.setAttribute('onclick', "window.ran.push('onclick= attribute')");
  document.body.append(handler);
  handler.click();
  const style = document.createElement('style');
  style.textContent = '#style-probe { color: rgb(1, 2, 3) }';
  document.head.append(style);
  const probes = document.createElement('div');
  probes.innerHTML = '<p id="style-probe">x</p><p id="attribute-probe" style="color: rgb(4, 5, 6)">x</p><p id="cssom-probe">x</p>';
  document.body.append(probes);
  document.getElementById('cssom-probe').style.color = 'rgb(7, 8, 9)';
  const color = (id: string) => getComputedStyle(document.getElementById(id)).color;
  if (color('style-probe') === 'rgb(1, 2, 3)') window.ran.push('inline <style>');
  if (color('attribute-probe') === 'rgb(4, 5, 6)') window.ran.push('style= attribute');
  if (color('cssom-probe') === 'rgb(7, 8, 9)') window.ran.push('element.style from script');
  return new Promise((resolve) => window.setTimeout(() => {
    try { window.eval("window.ran.push('eval')"); } catch { /* refused: EvalError */ }
    try { new window.Function("window.ran.push('new Function')")(); } catch { /* refused: EvalError */ }
    resolve(window.ran);
  }, 0));
}

test('upload a dataset, export it with live progress, download the file, and cancel a job — from the page', async () => {
  const page = await browser.newPage({ acceptDownloads: true });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  const violations = await recordCspViolations(page);

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
  // What the page built as it was used holds no inline code either (the CSP would refuse it).
  const inline = await page.evaluate(() => [
    ...[...document.querySelectorAll('script:not([src]), style')].map((node: any) => `<${node.localName}>`),
    ...[...document.querySelectorAll('*')].flatMap((node: any) => [...node.attributes]
      .filter((attribute: any) => attribute.name === 'style' || attribute.name.startsWith('on'))
      .map((attribute: any) => `<${node.localName} ${attribute.name}=>`)),
  ]);
  assert.deepEqual(inline, []);
  assert.equal(violations.length, 0, `no CSP violation in normal use:\n${violations.join('\n')}`);
  await page.close();
});

test("the page's CSP runs its own script and stylesheet, refuses injected inline code, and forbids framing", async () => {
  // The probe itself works: on a page without a CSP every kind of inline code takes effect.
  const blank = await browser.newPage();
  await blank.setContent('<!doctype html><title>no CSP</title>');
  assert.deepEqual(await blank.evaluate(tryInlineCode), [
    'inline <script>', 'onclick= attribute', 'inline <style>', 'style= attribute', 'element.style from script', 'eval', 'new Function',
  ]);
  await blank.close();

  const page = await browser.newPage();
  const violations = await recordCspViolations(page);
  const response = await page.goto(server.url + '/');
  assert.ok(response);
  const headers = response.headers();
  assert.equal(headers['content-security-policy'], CSP);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['cache-control'], 'no-cache');
  assert.equal(headers['x-content-type-options'], 'nosniff');
  // 'self' is enough for the page's own files: its script ran (it asked for the token), its stylesheet applied.
  await page.locator('#token-section').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('section')).borderTopLeftRadius), '8px');
  assert.equal(violations.length, 0, violations.join('\n'));

  assert.deepEqual(await page.evaluate(tryInlineCode), ['element.style from script'], 'only styles set from script take effect');
  await assert.rejects(page.addScriptTag({ content: "window.ran.push('addScriptTag')" }));
  assert.deepEqual(await page.evaluate(() => window.ran), ['element.style from script']);
  // The page is told of each refusal (eval is reported under script-src itself).
  await waitFor(() => {
    const directives = new Set(violations.filter((v) => !v.startsWith('console:')).map((v) => v.split(' ')[0]));
    return ['script-src-elem', 'script-src-attr', 'script-src', 'style-src-elem', 'style-src-attr'].every((d) => directives.has(d)) || undefined;
  }, 5000, 'a securitypolicyviolation event for each kind of inline code');
  await page.close();

  // Framed by another page: Chromium refuses, and loads its error page in the frame instead of the dashboard. The
  // stylesheet beside it, which has no frame-ancestors, shows that a frame of this server would load otherwise.
  const parent = await browser.newPage();
  const parentViolations = await recordCspViolations(parent);
  await parent.setContent(`<iframe name="page" src="${server.url}/"></iframe><iframe name="css" src="${server.url}/dashboard.css"></iframe>`);
  assert.equal(parent.frame('page')?.url(), 'chrome-error://chromewebdata/');
  assert.equal(await parent.frame('page')?.locator('#upload-form').count(), 0);
  assert.match(await parent.frame('css')!.locator('body').innerText(), /^:root \{/);
  assert.ok(parentViolations.some((v) => v.includes("frame-ancestors 'none'")), parentViolations.join('\n'));
  await parent.close();
});

test('the script and stylesheet are served without the token, as text/javascript and text/css', async () => {
  for (const [path, type] of [['/dashboard.js', 'text/javascript; charset=utf-8'], ['/dashboard.css', 'text/css; charset=utf-8']] as const) {
    const res = await server.request('GET', path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), type);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.ok(res.text.length > 500);
  }
  const page = await server.request('GET', '/');
  assert.match(page.text, /<script src="\/dashboard\.js" defer><\/script>/);
  assert.match(page.text, /<link rel="stylesheet" href="\/dashboard\.css">/);
});
