import { existsSync, mkdirSync } from 'node:fs';
import t, { type Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createCodingEnvDefinition } from '../../envs/coding_env/index.js';
import { echoEnvDefinition } from '../../envs/index.js';
import type { AnyEnvDefinition, EnvboxServer } from '../../runtime/index.js';
import { startTestServer } from '../fixtures/test-server.js';

/** Debian's chromium (`make install` installs it); a browser is never downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../artifacts/', import.meta.url);
/** The README's screenshot (`docs/web.png`): refreshed only with ENVBOX_UPDATE_SCREENSHOT=1, so a test run never changes a tracked file. */
const README_SCREENSHOT = new URL('../../docs/web.png', import.meta.url);
/** How long a page may take to show a reply (a step runs real code in a sandbox). */
const UI_TIMEOUT_MS = 20_000;

if (!existsSync(CHROMIUM)) {
  t.comment(`#################################################################################`);
  t.comment(`# SKIPPING the web interface browser tests: ${CHROMIUM} is missing.`);
  t.comment(`# Install it with: apt-get install -y --no-install-recommends chromium (make install does).`);
  t.comment(`#################################################################################`);
  t.plan(0, `${CHROMIUM} is missing and could not be installed (apt-get install chromium)`);
} else {
  mkdirSync(ARTIFACTS, { recursive: true });

  /** A fresh headless Chromium, closed when the test ends. */
  async function launch(t: Test): Promise<Browser> {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--disable-sync'],
    });
    t.teardown(() => browser.close());
    return browser;
  }

  /** Open `/web` of a server for `definition` and wait until the page is connected and built. */
  async function openPage(t: Test, definition: AnyEnvDefinition): Promise<{ page: Page; server: EnvboxServer; errors: string[] }> {
    const server = await startTestServer(t, { web: true }, definition);
    const browser = await launch(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    // Nothing may leave the host: fail any request that is not to the server itself.
    await page.route('**/*', (route) => (route.request().url().startsWith(server.url) ? route.continue() : route.abort()));
    await page.goto(`${server.url}/web`);
    await page.waitForSelector('body[data-ready="true"][data-connection="open"]');
    return { page, server, errors };
  }

  /** Text of the latest observation's `name` field. */
  const field = (page: Page, name: string) => page.locator(`#observation dd[data-field="${name}"]`);

  /** Wait until no request is in flight (the state refresh after a call included). */
  const idle = (page: Page) => page.waitForSelector('body[data-busy="false"] #step:not([disabled])');

  t.test('coding_env in a real browser: steps share state, history, reset, errors, JavaScript', async (t) => {
    const definition = await createCodingEnvDefinition({ pythonBackend: 'process', poolSize: 1 });
    const { page, errors } = await openPage(t, definition);

    t.equal(await page.locator('#env-name').textContent(), 'coding_env', 'name from /metadata');
    t.match(await page.locator('#env-description').textContent(), /Runs Python or JavaScript code/, 'description from /metadata');
    t.match(await page.locator('#env-readme').textContent(), /^# coding_env/, 'README from /metadata, as text');
    const editor = page.getByLabel('code', { exact: true });
    t.equal(await editor.evaluate((el) => el.tagName), 'TEXTAREA', 'a code field is a textarea editor');
    t.equal(await editor.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { fontFamily: string; backgroundColor: string } }).getComputedStyle(el).fontFamily.includes('monospace')), true, 'monospace');
    const language = page.getByLabel('language', { exact: true });
    t.same(await language.locator('option').allTextContents(), ['(default)', 'python', 'javascript'], 'language choice from the reset schema');

    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await idle(page);
    t.match(await page.locator('#state').textContent(), /"step_count": 0/);
    const firstEpisode = JSON.parse((await page.locator('#state').textContent())!).episode_id as string;

    // Tab indents inside the editor; Ctrl+Enter steps.
    await editor.click();
    await editor.pressSequentially('for i in range(1):');
    await editor.press('Enter');
    await editor.press('Tab');
    await editor.pressSequentially('answer = 6 * 7');
    await editor.press('Enter');
    await editor.pressSequentially('print("defined", answer)');
    t.equal(await editor.inputValue(), 'for i in range(1):\n    answer = 6 * 7\nprint("defined", answer)', 'Tab inserted indentation');
    await editor.press('Control+Enter');
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#2 step")');
    await idle(page);
    t.equal(await field(page, 'stdout').textContent(), 'defined 42\n', 'first step output');
    t.equal(await field(page, 'exit_code').locator('.exit-ok').textContent(), '0');

    await editor.fill('print(answer + 1)');
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#3 step")');
    await idle(page);
    t.equal(await field(page, 'stdout').textContent(), '43\n', 'the second step sees the first one\'s variable');
    t.match(await page.locator('#state').textContent(), /"step_count": 2/);

    const entries = page.locator('#history > li');
    t.equal(await entries.count(), 3, 'reset and both steps in the history');
    t.match(await entries.nth(0).locator('summary').textContent(), /^#3 step: print\(answer \+ 1\)/, 'newest first');
    t.match(await entries.nth(1).locator('summary').textContent(), /^#2 step: for i in range\(1\):/);
    t.equal(await entries.nth(0).locator('details').getAttribute('open'), '', 'the newest entry is open');
    t.equal(await entries.nth(1).locator('details').getAttribute('open'), null, 'older entries are collapsed');
    await entries.nth(1).locator('summary').click();
    t.match(await entries.nth(1).locator('dd[data-field="stdout"]').textContent(), /defined 42/, 'an older entry keeps its observation');
    await entries.nth(0).getByRole('button', { name: /Copy/ }).click();
    await entries.nth(0).locator('button:has-text("Copied")').waitFor();
    const copied = JSON.parse(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText()));
    t.match(copied, { kind: 'step', action: { code: 'print(answer + 1)' }, reply: { observation: { stdout: '43\n', exit_code: 0 } } }, 'Copy put the entry on the clipboard as JSON');

    await editor.fill('raise ValueError("boom")');
    await editor.press('Control+Enter');
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#4 step")');
    await idle(page);
    t.equal(await field(page, 'exit_code').locator('.exit-nonzero').textContent(), '1 (non-zero)', 'an exception: non-zero exit code, marked');
    t.match(await field(page, 'stderr').textContent(), /ValueError: boom/);
    t.not(
      await field(page, 'exit_code').locator('.exit-nonzero').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { fontFamily: string; backgroundColor: string } }).getComputedStyle(el).backgroundColor),
      'rgba(0, 0, 0, 0)',
      'the non-zero exit code has a colour of its own',
    );
    await page.screenshot({ path: new URL('web-coding-env-python.png', ARTIFACTS).pathname, fullPage: true });
    if (process.env.ENVBOX_UPDATE_SCREENSHOT === '1') await page.screenshot({ path: README_SCREENSHOT.pathname });

    await language.selectOption('javascript');
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#5 reset")');
    await idle(page);
    const state = JSON.parse((await page.locator('#state').textContent())!) as { episode_id: string; step_count: number; language: string };
    t.equal(state.language, 'javascript', 'reset with the chosen language');
    t.equal(state.step_count, 0);
    t.not(state.episode_id, firstEpisode, 'reset changed the state: a new episode');

    await editor.fill('console.log(1+1)');
    await editor.press('Control+Enter');
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#6 step")');
    await idle(page);
    t.equal(await field(page, 'stdout').textContent(), '2\n', 'JavaScript ran');
    await page.screenshot({ path: new URL('web-coding-env-javascript.png', ARTIFACTS).pathname, fullPage: true });
    t.same(errors, [], 'no page errors');
  });

  t.test('echo_env renders its own form and echoes', async (t) => {
    const { page, errors } = await openPage(t, echoEnvDefinition);
    t.equal(await page.locator('#env-name').textContent(), 'echo_env');
    const message = page.getByLabel('message', { exact: true });
    t.equal(await message.getAttribute('type'), 'text', 'a string field is a text input');
    t.equal(await page.locator('#action-fields textarea').count(), 0, 'no code editor');
    t.equal(await page.locator('#reset-fields select').count(), 0, 'no reset choices');
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await idle(page);
    await message.fill('hello from the browser');
    await message.press('Enter');
    await page.waitForSelector('#history li:nth-child(1) summary:has-text("#2 step")');
    await idle(page);
    t.equal(await field(page, 'echoed_message').textContent(), 'hello from the browser');
    t.equal(await field(page, 'message_length').textContent(), '22');
    t.match(await field(page, 'reward').textContent(), /^2\.2/, 'reward 0.1 per character');
    t.match(await page.locator('#state').textContent(), /"step_count": 1/);
    await page.screenshot({ path: new URL('web-echo-env.png', ARTIFACTS).pathname, fullPage: true });
    t.same(errors, [], 'no page errors');
  });

  t.test('a dropped connection is shown, then the page reconnects into a fresh session and says so', async (t) => {
    const { page, server } = await openPage(t, echoEnvDefinition);
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await idle(page);
    // The server closes the page's session (idle, as the reaper does after sessionIdleMs): its socket goes with it.
    t.equal(server.app.sessions.reapIdle(Date.now() + 3_600_000), 1, 'the page\'s session closed');
    await page.waitForSelector('#connection[data-state="closed"]');
    t.match(await page.locator('#connection').textContent(), /^Disconnected \(session closed: idle\); reconnecting in/);
    await page.waitForSelector('#connection[data-state="open"]');
    t.equal(await page.locator('#connection').textContent(), 'Reconnected: a fresh session (the previous episode is gone; press Reset)');
    t.match(await page.locator('#history > li').first().textContent(), /reconnected into a fresh session/);
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await idle(page);
    await page.getByLabel('message', { exact: true }).fill('again');
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    await page.waitForSelector('#observation dd[data-field="echoed_message"]:has-text("again")');
    t.pass('the fresh session works');
  });
}
