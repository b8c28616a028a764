// End-to-end journeys in headless Chromium, plus axe-core on every page.
// Run by tests/browser.rs, which starts gatehouse and passes:
//   BASE         http://127.0.0.1:PORT  (debug profile, plain cookies)
//   SECURE_BASE  http://127.0.0.1:PORT2 (secure_cookies = true, as `cargo run --release`)
//   WORK         a scratch directory (browser profiles)
//   SHOTS        where to save screenshots (optional)
// Exits 0 when every check passed; prints each failure otherwise.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const BASE = process.env.BASE;
const SECURE_BASE = process.env.SECURE_BASE;
const WORK = process.env.WORK;
const SHOTS = process.env.SHOTS || '';
const MAILDIR = process.env.MAILDIR;
const PASSWORD = 'correct horse battery staple';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
];

const failures = [];
const passed = [];
let browser;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function step(name, fn) {
  try {
    await fn();
    passed.push(name);
    console.log(`ok   ${name}`);
  } catch (e) {
    failures.push(`${name}: ${e.message}`);
    console.log(`FAIL ${name}: ${e.stack || e.message}`);
  }
}

/** Console errors and CSP violations seen on our own pages: there must be none. */
const consoleProblems = [];
function watch(page) {
  page.on('console', (msg) => {
    // Chrome logs every 4xx document as an error; those statuses are the contract's.
    const expectedStatus = /Failed to load resource: the server responded with a status of (400|401|403|404|422|429)/;
    if (msg.type() === 'error' && !page.__expectViolation && !expectedStatus.test(msg.text())) {
      consoleProblems.push(`${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => consoleProblems.push(`${page.url()}: ${err.message}`));
  return page;
}

async function newContext(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
  ctx.on('page', watch);
  return ctx;
}

let counter = 0;
function unique(prefix) {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

async function register(page, base = BASE, name = unique('user')) {
  await page.goto(`${base}/register`);
  await page.fill('#username', name);
  await page.fill('#email', `${name}@example.com`);
  await page.fill('#password', PASSWORD);
  await page.fill('#password_confirm', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.click('button[type=submit]')]);
  return name;
}

async function login(page, name, { remember = false, base = BASE } = {}) {
  if (!page.url().includes('/login')) await page.goto(`${base}/login`);
  await page.fill('#username', name);
  await page.fill('#password', PASSWORD);
  if (remember) await page.check('#remember');
  await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
}

/** RFC 6238 (SHA-1, 6 digits, 30 s) for the base32 secret the 2FA page shows, at `at` ms. */
function totp(secretText, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretText.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = crypto.createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return value.toString().padStart(6, '0');
}

/** The newest link `{BASE}{prefix}TOKEN` mailed to `address` (waits up to 20 s). */
async function mailedLink(address, prefix, { after = 0 } = {}) {
  const deadline = Date.now() + 20000;
  const pattern = new RegExp(`${BASE.replace(/[.]/g, '\\.')}${prefix}[A-Za-z0-9_-]+`);
  for (;;) {
    const files = fs.readdirSync(MAILDIR).filter((f) => f.endsWith('.txt'))
      .sort((a, b) => parseInt(b, 10) - parseInt(a, 10));
    for (const f of files) {
      if (parseInt(f, 10) < after) continue;
      const [to, ...body] = fs.readFileSync(path.join(MAILDIR, f), 'utf8').split('\n');
      const m = to === address && body.join('\n').match(pattern);
      if (m) return m[0];
    }
    check(Date.now() < deadline, `no ${prefix} link mailed to ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function mailCount() {
  return fs.readdirSync(MAILDIR).filter((f) => f.endsWith('.txt')).length;
}

async function logout(page) {
  await Promise.all([page.waitForURL(/\/login/), page.click('[data-testid=logout]')]);
}

async function testid(page) {
  return page.getAttribute('main', 'data-testid');
}

async function axe(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(
    bad.length === 0,
    `${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`,
  );
  return result.violations.length;
}

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const [kind, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 360, height: 740 }]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${kind}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function noHorizontalScroll(page, label) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check(scroll <= client, `${label}: content is ${scroll}px wide in a ${client}px viewport`);
}

// An attacker's site on another port of 127.0.0.1: a different origin but the SAME site
// (sites ignore ports), so SameSite=Lax does not keep the cookies off its posts and only the
// Origin check and the CSRF token stand in the way. Its pages auto-submit forms to gatehouse.
function startAttacker() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const target = req.url === '/logout' ? '/logout' : '/account/password';
      const fields = target === '/logout'
        ? ''
        : '<input name="current_password" value="guess"><input name="new_password" value="attacker owns this now"><input name="new_password_confirm" value="attacker owns this now">';
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="post" action="${BASE}${target}">${fields}</form>
        <script>document.getElementById('f').submit()</script>`);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });

  await step('register lands on the dashboard, signed in', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    check((await testid(page)) === 'dashboard', 'not the dashboard');
    check((await page.textContent('[data-testid=username]')).trim() === name, 'username not shown');
    check((await page.getAttribute('html', 'lang')) === 'en', 'html lang');
    await shot(page, 'dashboard');
    await ctx.close();
  });

  await step('the session cookie is invisible to scripts', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await register(page);
    const visible = await page.evaluate(() => document.cookie);
    check(!/session=/.test(visible), `document.cookie shows the session: ${visible}`);
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'session');
    check(session && session.httpOnly && session.sameSite === 'Lax', 'the session cookie is HttpOnly, SameSite=Lax');
    await ctx.close();
  });

  await step('logout leads to the login page, and back does not show the dashboard', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await register(page);
    await page.goto(`${BASE}/account`);
    await logout(page);
    check((await testid(page)) === 'login', 'not on the login page after logout');
    await page.goBack();
    await page.waitForLoadState('load');
    const where = await testid(page);
    check(where !== 'account' && where !== 'dashboard', `back showed a signed-in page (${where})`);
    check(!(await page.$('[data-testid=username]')), 'back shows a username');
    await ctx.close();
  });

  await step('remember me survives a browser restart; a plain sign-in does not', async () => {
    const name = await (async () => {
      const ctx = await newContext();
      const page = await ctx.newPage();
      const n = await register(page);
      await ctx.close();
      return n;
    })();
    for (const remember of [true, false]) {
      const dir = path.join(WORK, `profile-${remember}`);
      let ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS });
      let page = await ctx.newPage();
      await page.goto(`${BASE}/login`);
      await login(page, name, { remember });
      check((await testid(page)) === 'dashboard', 'sign-in failed');
      await ctx.close();
      ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS });
      page = await ctx.newPage();
      await page.goto(`${BASE}/dashboard`);
      const where = await testid(page);
      await ctx.close();
      check(where === (remember ? 'dashboard' : 'login'), `remember=${remember}: after a restart the page is ${where}`);
    }
  });

  await step('a deep link to /account comes back there after sign-in', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    await logout(page);
    await page.goto(`${BASE}/account`);
    check(page.url() === `${BASE}/login?next=%2Faccount`, `redirected to ${page.url()}`);
    await login(page, name);
    check(page.url() === `${BASE}/account`, `landed on ${page.url()}`);
    check((await testid(page)) === 'account', 'not the account page');
    await ctx.close();
  });

  await step('a second browser revoked on the devices page is signed out on its next click', async () => {
    const first = await newContext();
    const a = await first.newPage();
    const name = await register(a);
    const second = await newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    const b = await second.newPage();
    await b.goto(`${BASE}/login`);
    await login(b, name);
    check((await testid(b)) === 'dashboard', 'second browser not signed in');
    await a.goto(`${BASE}/account/sessions`);
    check((await a.$$('[data-session-id]')).length === 2, 'two sessions listed');
    check((await a.textContent('main')).includes('Firefox 128 on Linux'), 'the other browser is described');
    await shot(a, 'sessions');
    const other = await a.$('li[data-session-id]:not(.device-current) [data-testid=revoke]');
    await Promise.all([a.waitForNavigation(), other.click()]);
    check((await a.$$('[data-session-id]')).length === 1, 'one session left');
    await Promise.all([b.waitForNavigation(), b.click('a[href="/account"]')]);
    check((await testid(b)) === 'login', `second browser is on ${await testid(b)}`);
    await first.close();
    await second.close();
  });

  await step('a same-site page on another origin that auto-submits to /logout or /account/password is refused and changes nothing', async () => {
    const attacker = await startAttacker();
    const port = attacker.address().port;
    const attackerOrigin = `http://127.0.0.1:${port}`;
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    for (const target of ['logout', 'password']) {
      const evil = await ctx.newPage();
      evil.__expectViolation = true; // the refused post's error page is not ours to judge
      // Wait for gatehouse's answer to the forged post itself, not just the attacker's page.
      const answered = evil.waitForResponse(
        (r) => r.request().method() === 'POST' && r.url().startsWith(BASE), { timeout: 15000 });
      await evil.goto(`${attackerOrigin}/${target}`);
      const res = await answered;
      const sent = await res.request().allHeaders();
      check(/(^|; )session=/.test(sent.cookie || ''),
        `the browser did not send the session cookie with the forged ${target} post, so this proves nothing: ${sent.cookie}`);
      check(sent.origin === attackerOrigin, `Origin was ${sent.origin}`);
      check(res.status() === 403, `the forged ${target} post got ${res.status()}`);
      const body = await res.text();
      check(body.includes('sent from another origin'), `refused for another reason than its origin: ${body.slice(0, 300)}`);
      await evil.close();
    }
    attacker.close();
    await page.goto(`${BASE}/dashboard`);
    check((await testid(page)) === 'dashboard', 'the cross-site post signed the user out');
    const fresh = await newContext();
    const p2 = await fresh.newPage();
    await p2.goto(`${BASE}/login`);
    await login(p2, name);
    check((await testid(p2)) === 'dashboard', 'the password was changed by the cross-site post');
    await fresh.close();
    await ctx.close();
  });

  await step('the CSP blocks an injected inline script', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await register(page);
    page.__expectViolation = true;
    // Waited for, not slept on: the browser's report of the blocked code, and the page's own
    // violation events for both injections (the inline handler's comes when the image fails,
    // which is when it would have run).
    const reported = page.waitForEvent('console', {
      predicate: (m) => /Content Security Policy/i.test(m.text()), timeout: 15000,
    });
    const blocked = await page.evaluate(() => new Promise((resolve, reject) => {
      const seen = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        seen.push(e.effectiveDirective);
        if (seen.length === 2) resolve(seen);
      });
      setTimeout(() => reject(new Error(`CSP violations seen in 15 s: ${seen.join(', ') || 'none'}`)), 15000);
      const s = document.createElement('script');
      s.textContent = 'window.__pwned = true;';
      document.body.appendChild(s);
      const img = document.createElement('img');
      img.setAttribute('src', 'x');
      img.setAttribute('onerror', 'window.__pwned2 = true');
      document.body.appendChild(img);
    }));
    await reported;
    check(!(await page.evaluate(() => window.__pwned || window.__pwned2)), 'the injected script ran');
    check(blocked.every((d) => d.startsWith('script-src')), `blocked by ${blocked}`);
    await ctx.close();
  });

  await step('forms work with JavaScript off', async () => {
    const ctx = await newContext({ javaScriptEnabled: false });
    const page = await ctx.newPage();
    const name = await register(page);
    await logout(page);
    await login(page, name);
    check((await testid(page)) === 'dashboard', 'sign-in without JavaScript');
    await logout(page);
    // Values the browser's own checks let through, so the server's messages show.
    await page.goto(`${BASE}/register`);
    await page.fill('#username', '._-');
    await page.fill('#email', 'a@b');
    await page.fill('#password', 'password1');
    await page.fill('#password_confirm', 'password1');
    await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
    check((await page.textContent('#password-strength .strength-text')).trim().length > 0, 'server-side strength feedback');
    await ctx.close();
  });

  await step('show/hide password and the live strength meter', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await page.goto(`${BASE}/register`);
    await page.fill('#username', 'meterperson');
    check((await page.getAttribute('#password', 'type')) === 'password', 'hidden at first');
    await page.click('.password-toggle >> nth=0');
    check((await page.getAttribute('#password', 'type')) === 'text', 'the toggle shows the password');
    check((await page.getAttribute('.password-toggle >> nth=0', 'aria-pressed')) === 'true', 'aria-pressed');
    await page.click('.password-toggle >> nth=0');
    check((await page.getAttribute('#password', 'type')) === 'password', 'and hides it again');
    await page.fill('#password', 'password1');
    await page.waitForSelector('#password-strength:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#password-strength meter').value < 3);
    await page.fill('#password', PASSWORD);
    await page.waitForFunction(() => document.querySelector('#password-strength meter').value === 4);
    check((await page.textContent('#password-strength .strength-text')).includes('Very strong'), 'label');
    await ctx.close();
  });

  await step('Korean: the switch link, html lang, translated forms', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await page.goto(`${BASE}/login`);
    await Promise.all([page.waitForNavigation(), page.click('[data-testid=language-switch]')]);
    check((await page.getAttribute('html', 'lang')) === 'ko', 'html lang=ko');
    check((await page.textContent('h1')).trim() === '로그인', 'Korean heading');
    await shot(page, 'login-ko');
    const ko = await newContext({ locale: 'ko-KR' });
    const p2 = await ko.newPage();
    await p2.goto(`${BASE}/register`);
    check((await p2.getAttribute('html', 'lang')) === 'ko', 'Accept-Language ko picks Korean');
    await ko.close();
    await ctx.close();
  });

  await step('accessibility: no serious or critical axe violations on any page', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const visit = async (url, label) => {
      await page.goto(url);
      await axe(page, label);
    };
    for (const lang of ['en', 'ko']) {
      await page.goto(`${BASE}/language/${lang}?next=%2Flogin`);
      await axe(page, `login ${lang}`);
      if (lang === 'en') await shot(page, 'login');
      await page.fill('#username', 'nobody');
      await page.fill('#password', 'wrong wrong');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      await axe(page, `login failed ${lang}`);
      await visit(`${BASE}/register`, `register ${lang}`);
      // Values the browser's own checks let through, so the server's messages show.
      await page.fill('#username', '._-');
      await page.fill('#email', 'a@b');
      await page.fill('#password', 'password1');
      await page.fill('#password_confirm', 'other one');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
      check(focused === 'error-summary', `the error summary has focus (${focused})`);
      await axe(page, `register with errors ${lang}`);
      if (lang === 'en') await shot(page, 'register-errors');
      await visit(`${BASE}/no/such/page`, `404 ${lang}`);
      if (lang === 'en') await shot(page, 'error-404');
    }
    await page.goto(`${BASE}/language/en?next=%2Fregister`);
    const name = await register(page);
    for (const [url, label] of [['/dashboard', 'dashboard'], ['/account', 'account'], ['/account/sessions', 'sessions']]) {
      await visit(`${BASE}${url}`, label);
    }
    await page.goto(`${BASE}/account`);
    await shot(page, 'account');
    await page.fill('#current_password', 'not it');
    await page.fill('#new_password', 'password12');
    await page.fill('#new_password_confirm', 'password12');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/account/password"] button[type=submit]')]);
    await axe(page, 'account with errors');
    check(name.length > 0, 'signed in');
    await ctx.close();
  });

  await step('forgot password: ask, open the mailed link, set a new password, sign in', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    const address = `${name}@example.com`;
    // The address is unconfirmed until the mailed link is opened.
    check((await page.textContent('[data-testid=email-status]')).length > 0, 'the dashboard says the address is unconfirmed');
    const verify = await mailedLink(address, '/email/verify/');
    await page.goto(verify);
    check((await testid(page)) === 'email-verified', 'the verification link confirms the address');
    await page.goto(`${BASE}/account`);
    check(!(await page.textContent('[data-testid=email-status]')).includes('unverified'), 'the account page shows it verified');
    await logout(page);
    const before = mailCount();
    await page.click('[data-testid=forgot-link]');
    check(page.url() === `${BASE}/password/forgot`, 'the sign-in page leads to the forgot page');
    await page.fill('#email', address);
    await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
    check((await testid(page)) === 'forgot-sent', 'the forgot-sent page');
    const link = await mailedLink(address, '/password/reset/', { after: before });
    await page.goto(link);
    check((await testid(page)) === 'reset', 'the reset page');
    const fresh = 'a brand new passphrase for the browser';
    await page.fill('#new_password', fresh);
    await page.fill('#new_password_confirm', fresh);
    await Promise.all([page.waitForURL(`${BASE}/login`), page.click('main button[type=submit]')]);
    await page.fill('#username', name);
    await page.fill('#password', fresh);
    await Promise.all([page.waitForURL(`${BASE}/dashboard`), page.click('main button[type=submit]')]);
    check((await testid(page)) === 'dashboard', 'signed in with the new password');
    // The link is used up.
    const again = await page.goto(link);
    check(again.status() === 400 && (await testid(page)) === 'reset-invalid', 'a used link is refused');
    await ctx.close();
  });

  await step('two-step sign-in: enrol from the page, sign in with a code, then a recovery code, then turn it off', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    await page.goto(`${BASE}/account`);
    await Promise.all([page.waitForURL(`${BASE}/account/2fa`), page.click('[data-testid="2fa-link"]')]);
    check((await testid(page)) === '2fa', 'the 2FA page');
    check((await page.locator('.qr svg').count()) === 1, 'a QR code drawn as SVG');
    const secret = (await page.textContent('[data-testid=totp-secret]')).trim();
    await page.fill('#code', totp(secret));
    await page.fill('#current_password', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/account/2fa/totp"] button[type=submit]')]);
    const codes = await page.locator('[data-testid=recovery-codes] li').allTextContents();
    check(codes.length === 10, `ten recovery codes (${codes.length})`);
    check((await page.getAttribute('[data-testid=download-codes]', 'download')) === 'gatehouse-recovery-codes.txt', 'a download link');
    await axe(page, '2fa with recovery codes');
    if (SHOTS) await shot(page, 'two-factor-codes');
    await logout(page);
    // Password, then the code of the next step (the enrolment used this one).
    await page.fill('#username', name);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${BASE}/login/2fa`), page.click('main button[type=submit]')]);
    check((await testid(page)) === 'login-2fa', 'the second step');
    await axe(page, 'login-2fa');
    await page.fill('#code', totp(secret, Date.now() + 30000));
    await Promise.all([page.waitForURL(`${BASE}/dashboard`), page.click('main button[type=submit]')]);
    await logout(page);
    // A recovery code, typed as it was shown.
    await page.fill('#username', name);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${BASE}/login/2fa`), page.click('main button[type=submit]')]);
    await page.fill('#code', '000000');
    await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
    check((await testid(page)) === 'login-2fa', 'a wrong code: the form again');
    await axe(page, 'login-2fa with an error');
    await page.goto(`${BASE}/language/ko?next=%2Flogin%2F2fa`);
    check((await testid(page)) === 'login-2fa', 'the second step in Korean');
    await axe(page, 'login-2fa ko');
    await page.goto(`${BASE}/language/en?next=%2Flogin%2F2fa`);
    await page.fill('#code', codes[0].trim());
    await Promise.all([page.waitForURL(`${BASE}/dashboard`), page.click('main button[type=submit]')]);
    await page.goto(`${BASE}/account/2fa`);
    check((await page.textContent('[data-testid=codes-left]')).includes('9'), 'nine codes left');
    await axe(page, '2fa on');
    // Off, with the password and another recovery code.
    await page.fill('#disable_password', PASSWORD);
    await page.fill('#disable_code', codes[1].trim());
    await Promise.all([page.waitForNavigation(), page.click('form[action="/account/2fa/disable"] button[type=submit]')]);
    check((await page.locator('[data-testid=totp-secret]').count()) === 1, 'off: a new secret on offer');
    await logout(page);
    await login(page, name);
    check((await testid(page)) === 'dashboard', 'the password alone signs in again');
    // Korean pages.
    await page.goto(`${BASE}/language/ko?next=%2Faccount%2F2fa`);
    await axe(page, '2fa setup ko');
    await page.goto(`${BASE}/language/en?next=%2Faccount%2F2fa`);
    await axe(page, '2fa setup en');
    await ctx.close();
  });

  await step('accessibility: the mail pages in both languages', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const name = await register(page);
    const address = `${name}@example.com`;
    await logout(page);
    for (const lang of ['en', 'ko']) {
      await page.goto(`${BASE}/language/${lang}?next=%2Fpassword%2Fforgot`);
      await axe(page, `forgot ${lang}`);
      if (lang === 'en') await shot(page, 'forgot');
      // The browser's own check lets this through; the server's message shows.
      await page.fill('#email', 'a@b');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      await axe(page, `forgot with errors ${lang}`);
      const before = mailCount();
      await page.fill('#email', address);
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      await axe(page, `forgot-sent ${lang}`);
      const link = await mailedLink(address, '/password/reset/', { after: before });
      await page.goto(link);
      await axe(page, `reset ${lang}`);
      await page.fill('#new_password', 'password12');
      await page.fill('#new_password_confirm', 'password12');
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      check((await testid(page)) === 'reset', 'a weak password is refused on the page');
      await axe(page, `reset with errors ${lang}`);
      await page.goto(`${BASE}/password/reset/not-a-real-link`);
      await axe(page, `reset-invalid ${lang}`);
      await page.goto(`${BASE}/email/verify/not-a-real-link`);
      await axe(page, `email-invalid ${lang}`);
    }
    const verify = await mailedLink(address, '/email/verify/');
    await page.goto(verify);
    await axe(page, 'email-verified');
    await page.goto(`${BASE}/language/en?next=%2Flogin`);
    await ctx.close();
  });

  await step('dark colour scheme: contrast holds (axe)', async () => {
    const ctx = await newContext({ colorScheme: 'dark' });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/login`);
    await axe(page, 'login dark');
    await page.fill('#username', 'nobody');
    await page.fill('#password', 'wrong wrong');
    await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
    await axe(page, 'login failed dark');
    await register(page);
    for (const url of ['/dashboard', '/account', '/account/sessions']) {
      await page.goto(`${BASE}${url}`);
      await axe(page, `${url} dark`);
    }
    await shot(page, 'sessions-dark');
    await ctx.close();
  });

  await step('360 px wide and 200% zoom: no horizontal scrolling; skip link and focus ring work', async () => {
    const ctx = await newContext({ viewport: { width: 360, height: 740 } });
    const page = await ctx.newPage();
    for (const url of ['/login', '/register']) {
      await page.goto(`${BASE}${url}`);
      await noHorizontalScroll(page, `${url} at 360px`);
    }
    await register(page);
    for (const url of ['/dashboard', '/account', '/account/sessions']) {
      await page.goto(`${BASE}${url}`);
      await noHorizontalScroll(page, `${url} at 360px`);
    }
    // 200% zoom of a 1280 px window is a 640 px layout at twice the pixel density.
    const zoomed = await newContext({ viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 });
    const z = await zoomed.newPage();
    await z.goto(`${BASE}/register`);
    await noHorizontalScroll(z, 'register at 200%');
    await z.keyboard.press('Tab');
    check((await z.evaluate(() => document.activeElement.className)).includes('skip-link'), 'Tab first reaches the skip link');
    const outline = await z.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(outline !== 'none', 'the focused element has a visible outline');
    await zoomed.close();
    await ctx.close();
  });

  await step('release-style Secure __Host- cookies work on http://127.0.0.1 (the README run command)', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await register(page, SECURE_BASE);
    check((await testid(page)) === 'dashboard', 'signed in with Secure cookies');
    const cookies = await ctx.cookies(SECURE_BASE);
    const session = cookies.find((c) => c.name === '__Host-session');
    check(session && session.secure && session.httpOnly, 'the __Host-session cookie was stored');
    await page.goto(`${SECURE_BASE}/account`);
    check((await testid(page)) === 'account', 'the session holds');
    await ctx.close();
  });

  await step('our own pages log no errors and no CSP violations', async () => {
    check(consoleProblems.length === 0, consoleProblems.join('\n'));
  });

  await browser.close();
  console.log(`\n${passed.length} passed, ${failures.length} failed`);
  if (failures.length) {
    for (const f of failures) console.log(`  - ${f}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
