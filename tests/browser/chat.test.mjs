#!/usr/bin/env node
// Browser test of the imd web chat page: starts imd, drives the page in Debian's chromium with
// playwright-core (alice, bob and carol in three browser contexts) and checks 1:1 chat, unread
// badges, read receipts, typing, groups, history paging, reload, reconnect + sync, token refresh
// (after a refused upgrade, and with a second imd whose 8 s tokens expire: 1008), offline sends
// and error frames. Screenshots of every page and the imd logs are kept as artifacts.
//
//   node tests/browser/chat.test.mjs IMD [BUILD_DIR]
//
// IMD: the imd binary. Artifacts go to $IM_ARTIFACT_DIR, else BUILD_DIR/browser/artifacts,
// else $TMPDIR/libim-browser-artifacts. IM_WEB_ROOT=DIR serves the page from DIR (--web-root)
// instead of the copy built into imd. Exit code 0 when every check passed, 1 otherwise.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STEP_TIMEOUT_MS = 10000;
const TOTAL_TIMEOUT_MS = 110000;  // below CTest's 150 s, so we still clean up ourselves
const CHROMIUM = process.env.IM_CHROMIUM || '/usr/bin/chromium';

const [imdPath, buildDir] = process.argv.slice(2);
if (!imdPath) {
  console.error('usage: node chat.test.mjs IMD [BUILD_DIR]');
  process.exit(2);
}
const artifactDir = process.env.IM_ARTIFACT_DIR ||
  (buildDir ? path.join(buildDir, 'browser', 'artifacts') : path.join(os.tmpdir(), 'libim-browser-artifacts'));

const pwEntry = path.join(HERE, 'node_modules', 'playwright-core', 'index.mjs');
if (!fs.existsSync(pwEntry)) {
  console.error(`FAIL: ${pwEntry} is missing: run \`npm ci --prefix ${HERE}\` (scripts/install-deps.sh does it)`);
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAIL: ${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh does it)`);
  process.exit(1);
}
const { chromium } = await import(pathToFileURL(pwEntry).href);

// ---------------------------------------------------------------------------------------------
// Bookkeeping: numbered checks, a clear first failure, cleanup on every path.
let passed = 0;
let failed = 0;
const daemons = [];  // {proc, dataDir, log} of every imd started
let browser = null;
const pages = {};  // name -> page
const pageProblems = [];  // uncaught exceptions and CSP violations in the pages

function log(msg) {
  console.log(`[${(performance.now() / 1000).toFixed(1)}s] ${msg}`);
}

async function check(name, fn) {
  try {
    await fn();
    passed++;
    log(`ok ${passed} - ${name}`);
  } catch (e) {
    failed++;
    log(`FAIL - ${name}\n    ${String(e && e.message ? e.message : e).split('\n').join('\n    ')}`);
    throw new Error(`stopped at: ${name}`);
  }
}

// Waits for fn(arg) to be truthy in the page; the failure names what was awaited.
async function until(page, what, fn, arg, timeout = STEP_TIMEOUT_MS) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    const state = await page.evaluate(() => ({
      conn: document.getElementById('conn-status')?.textContent,
      error: document.getElementById('error-banner')?.hidden ? '' : document.getElementById('error-text')?.textContent,
      title: document.getElementById('conv-title')?.textContent,
      convs: [...document.querySelectorAll('[data-testid=conv-item]')].map((li) => li.innerText.replace(/\s+/g, ' ')),
      messages: [...document.querySelectorAll('[data-testid=message]')].slice(-6)
        .map((li) => `${li.dataset.state}: ${li.querySelector('[data-testid=message-text]')?.textContent.slice(0, 60)}`),
    })).catch(() => ({}));
    throw new Error(`timed out after ${timeout} ms waiting for: ${what}\n  page state: ${JSON.stringify(state)}\n  (${e.message.split('\n')[0]})`);
  }
}

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

async function cleanup() {
  if (browser) {
    fs.mkdirSync(artifactDir, { recursive: true });
    for (const [name, page] of Object.entries(pages)) {
      const file = path.join(artifactDir, `chat-${name}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        log(`screenshot: ${file}`);
      } catch (e) {
        log(`screenshot of ${name} failed: ${e.message.split('\n')[0]}`);
      }
    }
    await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    browser = null;
  }
  for (const d of daemons.splice(0)) {
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      const exited = new Promise((r) => d.proc.once('exit', r));
      d.proc.kill('SIGTERM');
      const killer = setTimeout(() => d.proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(d.dataDir, { recursive: true, force: true });
    log(`imd log: ${d.log}`);
    if (failed && fs.existsSync(d.log)) {
      const lines = fs.readFileSync(d.log, 'utf8').trimEnd().split('\n').slice(-25);
      console.log(`--- last lines of ${d.log} ---\n${lines.join('\n')}\n---`);
    }
  }
}

const watchdog = setTimeout(async () => {
  log(`FAIL - the test did not finish within ${TOTAL_TIMEOUT_MS / 1000} s`);
  failed++;
  await cleanup();
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// imd on a free port, with a fresh data directory and, when given, a TOML config; resolves to
// its base URL. Its log (stderr) is kept with the screenshots and its tail printed on failure.
function startImd(name, configToml) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imd-browser-'));
  const args = ['--listen', '127.0.0.1:0', '--data-dir', dataDir];
  if (configToml) {
    fs.writeFileSync(path.join(dataDir, 'imd.toml'), configToml);
    args.push('--config', path.join(dataDir, 'imd.toml'));
  }
  if (process.env.IM_WEB_ROOT) args.push('--web-root', process.env.IM_WEB_ROOT);
  fs.mkdirSync(artifactDir, { recursive: true });
  const logFile = path.join(artifactDir, `${name}.log`);
  const logFd = fs.openSync(logFile, 'w');
  const proc = spawn(imdPath, args, {
    env: { ...process.env, IM_PASSWORD_ITERATIONS: '1000' },
    stdio: ['ignore', 'pipe', logFd],
  });
  fs.closeSync(logFd);
  daemons.push({ proc, dataDir, log: logFile });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`imd did not print its address within 10 s: ${out}`)), 10000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${imdPath}: ${e.message}`));
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`imd exited early with ${code}: ${out} (log: ${logFile})`));
    });
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /imd listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout.resume();
        resolve(m[1]);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Page helpers.
async function openPage(name, base) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (e) => pageProblems.push(`${name}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(`${name}: ${m.text()}`);
  });
  // CSP violations (an inline script, style or handler would be one) reported from the page.
  await context.exposeBinding('__reportCspViolation', (_source, text) => pageProblems.push(`${name}: CSP: ${text}`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation',
      (e) => window.__reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));
  });
  pages[name] = page;
  await page.goto(base + '/');
  return page;
}

const online = (page, what) => until(page, `${what} online`,
  () => document.getElementById('conn-status').dataset.state === 'online');

async function register(page, name) {
  await page.fill('#auth-username', name);
  await page.fill('#auth-password', name + '-password');
  await page.click('#register-btn');
  await online(page, name);
  const id = (await page.textContent('#me-id')).replace('#', '');
  assert(/^\d+$/.test(id), `${name}'s id is shown (got "${id}")`);
  return id;
}

async function send(page, text) {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
}

// Exactly one message row with text `text` (and data-state `state`, when given).
function hasMessage(page, who, text, state) {
  return until(page, `${who} shows "${text.slice(0, 40)}"${state ? ' as ' + state : ''}`, ([t, s]) => {
    const rows = [...document.querySelectorAll('[data-testid=message]')]
      .filter((li) => li.querySelector('[data-testid=message-text]').textContent === t);
    return rows.length === 1 && (!s || rows[0].dataset.state === s);
  }, [text, state || '']);
}

// The status line and sender of the message row with text `text`.
const rowInfo = (page, text) => page.evaluate((t) => {
  const row = [...document.querySelectorAll('[data-testid=message]')]
    .find((li) => li.querySelector('[data-testid=message-text]').textContent === t);
  return row && {
    status: row.querySelector('[data-testid=message-status]')?.textContent,
    sender: row.querySelector('.msg-sender')?.textContent,
  };
}, text);

async function openConv(page, convId) {
  await page.click(`[data-testid=conv-item][data-conv-id="${convId}"]`);
  await until(page, `conversation ${convId} open`,
    (id) => document.querySelector('[data-testid=conv-item].active')?.dataset.convId === id, convId);
}

const badge = (page, convId) => page.evaluate((id) =>
  document.querySelector(`[data-testid=conv-item][data-conv-id="${id}"] [data-testid=unread-badge]`)?.textContent || '',
convId);

// ---------------------------------------------------------------------------------------------
async function scenario() {
  let base;
  await check('imd starts and prints its address', async () => {
    base = await startImd('imd');
    log(`imd at ${base}${process.env.IM_WEB_ROOT ? ' (web root ' + process.env.IM_WEB_ROOT + ')' : ' (built-in page)'}`);
  });
  await check('chromium starts', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run'],
      timeout: 30000,
    });
  });

  let alice;
  let bob;
  let carol;
  await check('the page is served with a strict CSP and loads its script and style', async () => {
    alice = await openPage('alice', base);
    const res = await alice.request.get(base + '/');
    const csp = res.headers()['content-security-policy'] || '';
    assert(csp.includes("default-src 'self'"), `CSP header: "${csp}"`);
    for (const asset of ['/app.js', '/app.css']) {
      const r = await alice.request.get(base + asset);
      assert(r.status() === 200, `${asset}: HTTP ${r.status()}`);
    }
    await alice.waitForSelector('#auth-form', { state: 'visible' });
  });

  let ids = {};
  await check('alice, bob and carol register and come online (separate contexts, separate logins)', async () => {
    bob = await openPage('bob', base);
    carol = await openPage('carol', base);
    ids.alice = await register(alice, 'alice');
    ids.bob = await register(bob, 'bob');
    ids.carol = await register(carol, 'carol');
    assert(new Set(Object.values(ids)).size === 3, `three distinct ids: ${JSON.stringify(ids)}`);
  });
  const [lo, hi] = [ids.alice, ids.bob].sort((a, b) => Number(a) - Number(b));
  const direct = `d:${lo}:${hi}`;

  await check('a wrong password is refused on the login form', async () => {
    const page = await browser.newPage();
    pages.login = page;
    await page.goto(base + '/');
    await page.fill('#auth-username', 'alice');
    await page.fill('#auth-password', 'not-the-password');
    await page.click('#login-btn');
    await until(page, 'login error shown', () => /unauthenticated/.test(document.getElementById('auth-error').textContent));
    await page.close();
    delete pages.login;
  });

  await check('alice starts a 1:1 chat with bob by username; an unknown name is an error', async () => {
    await alice.fill('#new-direct-input', 'nobody-here');
    await alice.click('#new-direct-btn');
    await until(alice, 'an error banner naming the unknown user', () => !document.getElementById('error-banner').hidden
      && /no user named "nobody-here"/.test(document.getElementById('error-text').textContent));
    await alice.click('#error-dismiss');
    await alice.fill('#new-direct-input', 'bob');
    await alice.click('#new-direct-btn');
    await until(alice, 'chat with bob open', (id) => document.querySelector('[data-testid=conv-item].active')?.dataset.convId === id
      && document.getElementById('conv-title').textContent === 'bob', direct);
  });

  await check('carol starts a 1:1 chat with alice by user id', async () => {
    const [x, y] = [ids.alice, ids.carol].sort((a, b) => Number(a) - Number(b));
    await carol.fill('#new-direct-input', '#' + ids.alice);
    await carol.click('#new-direct-btn');
    await until(carol, 'chat with alice open', (id) => document.querySelector('[data-testid=conv-item].active')?.dataset.convId === id
      && document.getElementById('conv-title').textContent === 'alice', `d:${x}:${y}`);
  });

  const hello = 'hello bob <b>not bold</b> & "quotes"';
  await check('alice sends; her message goes from pending to sent', async () => {
    await send(alice, hello);
    await hasMessage(alice, 'alice', hello, 'sent');
    const { status } = await rowInfo(alice, hello);
    assert(status === 'sent', `status text "${status}"`);
  });

  await check('bob gets an unread badge and a preview live, before opening the chat', async () => {
    await until(bob, 'unread badge 1 on the chat with alice', (id) =>
      document.querySelector(`[data-testid=conv-item][data-conv-id="${id}"] [data-testid=unread-badge]`)?.textContent === '1', direct);
    const preview = await bob.textContent(`[data-testid=conv-item][data-conv-id="${direct}"] [data-testid=conv-preview]`);
    assert(preview.includes('hello bob'), `preview "${preview}"`);
    const name = await bob.textContent(`[data-testid=conv-item][data-conv-id="${direct}"] [data-testid=conv-name]`);
    assert(name === 'alice', `conversation named "${name}"`);
  });

  await check('bob opens the chat: the message is there, escaped, and the badge is gone', async () => {
    await openConv(bob, direct);
    await hasMessage(bob, 'bob', hello, 'received');
    const bold = await bob.locator('[data-testid=message-text] b').count();
    assert(bold === 0, 'user content was rendered as HTML');
    assert(await badge(bob, direct) === '', 'badge cleared');
  });

  await check('the read receipt reaches alice: her message shows "read"', async () => {
    await hasMessage(alice, 'alice', hello, 'read');
  });

  await check('alice types: bob sees the typing indicator', async () => {
    await alice.fill('#message-input', '');
    await alice.type('#message-input', 'typing…', { delay: 20 });
    await until(bob, 'bob sees "alice is typing"',
      () => /alice is typing/.test(document.getElementById('typing-indicator').textContent));
    await alice.fill('#message-input', '');
  });

  await check('bob replies; alice sees it live and bob sees it read', async () => {
    await send(bob, 'hi alice');
    await hasMessage(alice, 'alice', 'hi alice', 'received');
    await hasMessage(bob, 'bob', 'hi alice', 'read');
  });

  let groupId;
  let groupConv;
  await check('alice creates a group; bob and carol join it by id', async () => {
    await alice.fill('#new-group-name', 'friends');
    await alice.click('#new-group-btn');
    await until(alice, 'group open', () => document.querySelector('[data-testid=conv-item].active')?.dataset.convId?.startsWith('g:')
      && document.getElementById('conv-title').textContent === 'friends');
    groupConv = await alice.getAttribute('[data-testid=conv-item].active', 'data-conv-id');
    groupId = groupConv.slice(2);
    const info = await alice.textContent('#conv-info');
    assert(info.includes(groupId), `group id shown: "${info}"`);
    for (const [name, page] of [['bob', bob], ['carol', carol]]) {
      await page.fill('#join-group-id', groupId);
      await page.click('#join-group-btn');
      await until(page, `${name} in the group`, (id) => document.querySelector('[data-testid=conv-item].active')?.dataset.convId === id
        && document.getElementById('conv-title').textContent === 'friends', groupConv);
    }
  });

  await check('joining a group that does not exist shows the server error', async () => {
    await carol.fill('#join-group-id', '987654321');
    await carol.click('#join-group-btn');
    await until(carol, 'error banner', () => !document.getElementById('error-banner').hidden
      && /not_found|permission_denied/.test(document.getElementById('error-text').textContent));
    await carol.click('#error-dismiss');
    await openConv(carol, groupConv);
  });

  await check('the group exchanges messages: every member sees them with sender names', async () => {
    await send(alice, 'hello group');
    await hasMessage(bob, 'bob', 'hello group', 'received');
    await hasMessage(carol, 'carol', 'hello group', 'received');
    await send(carol, 'carol here');
    await hasMessage(alice, 'alice', 'carol here', 'received');
    await hasMessage(bob, 'bob', 'carol here', 'received');
    const { sender } = await rowInfo(alice, 'carol here');
    assert(sender === 'carol', `sender shown as "${sender}"`);
    await hasMessage(carol, 'carol', 'carol here', 'read');
  });

  await check('alice sends 25 more group messages; all are acknowledged in order', async () => {
    for (let i = 1; i <= 25; i++) await send(alice, `m${i}`);
    await until(alice, 'no pending message left', () => document.querySelectorAll('[data-testid=message][data-state=pending]').length === 0
      && document.querySelectorAll('[data-testid=message]').length === 27);
    const seqs = await alice.$$eval('[data-testid=message]', (rows) => rows.map((r) => Number(r.dataset.seq)));
    assert(seqs.every((s, i) => s === i + 1), `seqs 1..27 in order: ${seqs}`);
    await hasMessage(bob, 'bob', 'm25', 'received');
  });

  await check('bob reloads (new WebSocket): still logged in, the 1:1 history is shown', async () => {
    const connectsBefore = await bob.evaluate(() => imChat.stats.connects);
    assert(connectsBefore >= 1, 'bob was connected');
    await bob.reload();
    await online(bob, 'bob after reload');
    assert(await bob.evaluate(() => imChat.userId) === ids.bob, 'same user after reload');
    await openConv(bob, direct);
    await hasMessage(bob, 'bob', hello, 'received');
    await hasMessage(bob, 'bob', 'hi alice');
  });

  await check('bob opens the group: the latest page shows; scrolling to the top loads older history', async () => {
    await openConv(bob, groupConv);
    await hasMessage(bob, 'bob', 'm25', 'received');
    const first = await bob.$$eval('[data-testid=message]', (rows) => rows.length);
    assert(first < 27, `only the latest page at first (${first} rows)`);
    await until(bob, 'all 27 group messages after scrolling up', () => {
      const box = document.getElementById('messages');
      box.scrollTop = 0;
      return document.querySelectorAll('[data-testid=message]').length === 27;
    });
    await hasMessage(bob, 'bob', 'hello group', 'received');
    await until(bob, 'beginning of the conversation',
      () => document.getElementById('history-status').dataset.state === 'start');
    const seqs = await bob.$$eval('[data-testid=message]', (rows) => rows.map((r) => Number(r.dataset.seq)));
    assert(seqs.every((s, i) => s === i + 1), `seqs 1..27 in order: ${seqs}`);
  });

  await check('bob goes offline; alice writes; on reconnect bob syncs and gets the missed message', async () => {
    const syncsBefore = await bob.evaluate(() => imChat.stats.syncs);
    await bob.evaluate(() => imChat.pauseConnection());
    await until(bob, 'bob offline', () => document.getElementById('conn-status').dataset.state === 'offline');
    await openConv(alice, direct);
    await send(alice, 'while you were away');
    await hasMessage(alice, 'alice', 'while you were away', 'sent');
    await bob.evaluate(() => imChat.resumeConnection());
    await online(bob, 'bob after reconnect');
    await until(bob, 'unread badge 1 on the chat with alice after sync', (id) =>
      document.querySelector(`[data-testid=conv-item][data-conv-id="${id}"] [data-testid=unread-badge]`)?.textContent === '1', direct);
    assert(await bob.evaluate(() => imChat.stats.syncs) > syncsBefore, 'bob sent a sync');
    await openConv(bob, direct);
    await hasMessage(bob, 'bob', 'while you were away', 'received');
    await hasMessage(alice, 'alice', 'while you were away', 'read');
  });

  await check('an upgrade refused with 401 makes the page refresh its token and reconnect', async () => {
    const before = await bob.evaluate(() => imChat.stats);
    await bob.evaluate(() => {
      imChat.pauseConnection();
      imChat.invalidateAccessToken();
      imChat.resumeConnection();
    });
    await until(bob, 'a token refresh', (n) => imChat.stats.refreshes > n, before.refreshes);
    await online(bob, 'bob with a fresh token');
    await send(bob, 'after the refresh');
    await hasMessage(alice, 'alice', 'after the refresh', 'received');
  });

  await check('a message sent while offline stays pending, survives a reload, and is delivered once', async () => {
    await alice.evaluate(() => imChat.pauseConnection());
    await until(alice, 'alice offline', () => document.getElementById('conn-status').dataset.state === 'offline');
    await send(alice, 'queued while offline');
    await hasMessage(alice, 'alice', 'queued while offline', 'pending');
    await alice.reload();
    await online(alice, 'alice after reload');
    await openConv(alice, direct);
    await hasMessage(alice, 'alice', 'queued while offline', 'read');
    await hasMessage(bob, 'bob', 'queued while offline', 'received');
  });

  await check('an error frame is shown: a message over the size limit fails with resource_exhausted', async () => {
    await alice.evaluate(() => { document.getElementById('message-input').value = 'x'.repeat(70000); });
    await alice.press('#message-input', 'Enter');
    await until(alice, 'failed message and error banner', () => {
      const failedRow = document.querySelector('[data-testid=message][data-state=failed]');
      return failedRow && /resource_exhausted/.test(failedRow.textContent)
        && !document.getElementById('error-banner').hidden
        && /resource_exhausted/.test(document.getElementById('error-text').textContent);
    });
    await alice.click('[data-testid=discard-btn]');
    await until(alice, 'failed message discarded', () => !document.querySelector('[data-testid=message][data-state=failed]'));
    assert(await bob.locator('[data-testid=message-text]', { hasText: 'xxxxxxxxxx' }).count() === 0, 'bob got nothing');
  });

  await check('conversations are ordered by activity and previews follow the last message', async () => {
    const order = await carol.$$eval('[data-testid=conv-item]', (rows) => rows.map((r) => r.dataset.convId));
    assert(order[0] === groupConv, `carol's list: ${order}`);
    const aliceOrder = await alice.$$eval('[data-testid=conv-item]', (rows) => rows.map((r) => r.dataset.convId));
    assert(aliceOrder[0] === direct && aliceOrder.includes(groupConv), `alice's list: ${aliceOrder}`);
    const preview = await alice.textContent(`[data-testid=conv-item][data-conv-id="${groupConv}"] [data-testid=conv-preview]`);
    assert(preview === 'You: m25', `group preview on alice's page: "${preview}"`);
  });

  await check('with 8 s access tokens: refreshed before expiry; after the server closes with 1008 the page reconnects', async () => {
    const shortBase = await startImd('imd-short-tokens', 'access_token_ttl_seconds = 8\n');
    const dave = await openPage('dave', shortBase);
    await register(dave, 'dave');
    await until(dave, 'a token refresh before expiry', () => imChat.stats.refreshes >= 1, undefined, 15000);
    await until(dave, 'a close with 1008 at the old token\'s expiry, then a new connection',
      () => imChat.stats.lastCloseCode === 1008 && imChat.stats.connects >= 2
        && document.getElementById('conn-status').dataset.state === 'online', undefined, 15000);
    await dave.fill('#new-group-name', 'short tokens');
    await dave.click('#new-group-btn');
    await until(dave, 'group open', () => document.getElementById('conv-title').textContent === 'short tokens');
    await send(dave, 'still here');
    await hasMessage(dave, 'dave', 'still here', 'sent');
  });

  await check('no uncaught page errors and no CSP violations', async () => {
    assert(pageProblems.length === 0, pageProblems.join('\n'));
  });
}

let exitCode = 1;
try {
  await scenario();
  exitCode = failed === 0 ? 0 : 1;
} catch (e) {
  if (!/^stopped at/.test(e.message)) {
    failed++;
    log(`FAIL - ${e.stack || e}`);
  }
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
console.log(`browser.chat: ${passed} passed, ${failed} failed`);
process.exit(exitCode);
