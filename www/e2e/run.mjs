// The demo app end to end, in headless Chromium against a live server serving the
// built app (www/dist): jane on a desktop-sized window, john on a 375 px phone.
// Also builds the app with webpack 5 (www/dist-webpack) and checks that build signs in.
//   cd www && npm install && npx vite build && node e2e/run.mjs
// SKIP_WEBPACK=1 skips the webpack build and check; CHATKITTY_SERVER_BIN picks the server.
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..');
const shots = join(here, 'screenshots');
mkdirSync(shots, { recursive: true });

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };
const T = 10000;
const results = [];

async function step(title, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ title, ok: true });
    console.log(`  ok    ${title} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ title, ok: false });
    const n = results.length;
    for (const p of [typeof jane === 'undefined' ? null : jane, typeof john === 'undefined' ? null : john]) {
      if (p && !p.page.isClosed()) await p.page.screenshot({ path: join(shots, `failed-${n}-${p.label}.png`) }).catch(() => {});
    }
    console.log(`  FAIL  ${title}\n        ${String(e?.stack || e).split('\n').slice(0, 4).join('\n        ')}`);
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

// ---------- people ----------

const errors = [];

async function open(browser, url, label, viewport, { cuttable = false } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const p = { context, page, label, cut: false, sockets: new Set() };
  page.on('pageerror', (e) => errors.push(`[${label}] ${e}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) errors.push(`[${label}] console: ${m.text()}`);
  });
  if (cuttable) {
    // The page's WebSocket goes through here, so the test can cut this person's
    // network (and only theirs) and give it back.
    await context.routeWebSocket(/\/rtm\/websocket/, (ws) => {
      if (p.cut) {
        ws.close({ code: 1006, reason: 'network down' });
        return;
      }
      const server = ws.connectToServer();
      p.sockets.add({ ws, server });
    });
  }
  await page.goto(url);
  return p;
}

async function signIn(page, username, displayName) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel(/^Display name/).fill(displayName);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.channel-item').first().waitFor({ timeout: T });
}

const conv = (page) => page.locator('.conversation');
const composer = (page) => conv(page).getByLabel('Message', { exact: true });
const message = (page, text) => conv(page).locator('.message', { has: page.locator('.body', { hasText: text }) });
const channelItem = (page, title) => page.locator('.channel-item').filter({ has: page.locator('.channel-title', { hasText: new RegExp(`^${title}$`) }) });

async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

/** A small picture (a sunset over mountains) drawn in the page, as PNG bytes. */
async function picture(page) {
  const data = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 640;
    c.height = 400;
    const g = c.getContext('2d');
    const sky = g.createLinearGradient(0, 0, 0, 400);
    sky.addColorStop(0, '#ffb37b');
    sky.addColorStop(0.55, '#ff7f8f');
    sky.addColorStop(1, '#6b5bd2');
    g.fillStyle = sky;
    g.fillRect(0, 0, 640, 400);
    g.fillStyle = '#fff1b8';
    g.beginPath();
    g.arc(430, 175, 58, 0, Math.PI * 2);
    g.fill();
    const range = (color, points) => {
      g.fillStyle = color;
      g.beginPath();
      g.moveTo(0, 400);
      for (const [x, y] of points) g.lineTo(x, y);
      g.lineTo(640, 400);
      g.fill();
    };
    range('#4a3a86', [[0, 280], [110, 190], [210, 270], [330, 170], [450, 290], [560, 220], [640, 260]]);
    range('#2c2356', [[0, 340], [140, 270], [260, 330], [400, 260], [520, 330], [640, 300]]);
    return c.toDataURL('image/png');
  });
  return Buffer.from(data.split(',')[1], 'base64');
}

/** The open flags of the review queue, as the application's backend sees them. */
async function openFlags() {
  const token = await fetch(new URL('/oauth/token', server.url), {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`demo:${PLATFORM_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  }).then((r) => r.json());
  const r = await fetch(new URL(`/v1/applications/${token.application_id}/flags?status=OPEN&size=100`, server.url), { headers: { authorization: `Bearer ${token.access_token}` } });
  check(r.ok, `GET flags: ${r.status}`);
  return (await r.json())._embedded?.flags || [];
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

// ---------- run ----------

if (!process.env.SKIP_WEBPACK) {
  console.log('building with webpack (dist-webpack/)');
  const r = spawnSync('npx', ['webpack', '--config', 'webpack.config.cjs'], { cwd: www, encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(r.stdout, r.stderr);
    results.push({ title: 'webpack build', ok: false });
  } else results.push({ title: 'webpack build', ok: true });
}

// The Platform API (its secret for the demo's API key) lets the test read the review
// queue a reported message lands in (docs/protocol.md §22.4).
const PLATFORM_SECRET = 'e2e-platform-secret';
const server = await startServer({ staticDir: join(www, 'dist'), args: ['--platform-secret', `demo=${PLATFORM_SECRET}`] });
const browser = await launchBrowser();
console.log(`demo e2e against ${server.url}`);

const jane = await open(browser, server.url, 'jane', DESKTOP);
// john's tab has a connection of its own (?share=0), so the test can cut it; jane's
// goes through the shared worker (docs/api.md §18).
const john = await open(browser, `${server.url}?share=0`, 'john', PHONE, { cuttable: true });

await step('sign in with a username and a display name (desktop and 375 px)', async () => {
  await shot(jane.page, 'desktop-signin');
  await shot(john.page, 'phone-signin');
  await signIn(jane.page, 'jane', 'Jane Doe');
  await signIn(john.page, 'john', 'John Smith');
  await jane.page.locator('.me-name', { hasText: 'Jane Doe' }).waitFor({ timeout: T });
  await john.page.locator('.me-name', { hasText: 'John Smith' }).waitFor({ timeout: T });
  // A first-time user lands in #general.
  await channelItem(jane.page, 'general').waitFor({ timeout: T });
});

await step('jane starts a direct conversation with john and sends a message', async () => {
  const { page } = jane;
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('dialog').getByRole('button', { name: /John Smith/ }).click();
  await page.getByRole('button', { name: 'Start chatting' }).click();
  await conv(page).getByRole('heading', { name: 'John Smith' }).waitFor({ timeout: T });
  await send(page, 'Hello John!');
  await message(page, 'Hello John!').waitFor({ timeout: T });
  await page.locator('.message[data-id] .body', { hasText: 'Hello John!' }).waitFor({ timeout: T });
});

await step('john sees the new conversation with an unread badge, opens it, and answers', async () => {
  const { page } = john;
  await channelItem(page, 'Jane Doe').locator('.badge', { hasText: '1' }).waitFor({ timeout: T });
  await shot(page, 'phone-channels');
  await channelItem(page, 'Jane Doe').click();
  await message(page, 'Hello John!').waitFor({ timeout: T });
  await send(page, 'Hi Jane');
  await message(jane.page, 'Hi Jane').waitFor({ timeout: T });
});

await step('read receipt: jane sees john read her message', async () => {
  await message(jane.page, 'Hello John!').locator('.receipt.read').waitFor({ timeout: T });
  await jane.page.locator('.seen', { hasText: 'Seen by John Smith' }).waitFor({ timeout: T });
});

await step('typing indicator shows while john types and goes away when he clears it', async () => {
  await composer(john.page).pressSequentially('Let me think', { delay: 40 });
  await jane.page.locator('.typing', { hasText: 'John Smith is typing…' }).waitFor({ timeout: T });
  await composer(john.page).fill('');
  await jane.page.locator('.typing', { hasText: 'is typing' }).waitFor({ state: 'detached', timeout: T }).catch(async () => {
    await jane.page.waitForFunction(() => !document.querySelector('.typing')?.textContent, null, { timeout: T });
  });
});

await step('presence: john shows online in the conversation header', async () => {
  await conv(jane.page).locator('[data-member="john"].online').waitFor({ timeout: T });
  await conv(jane.page).locator('.conversation-subtitle', { hasText: 'Online' }).waitFor({ timeout: T });
});

await step('reactions: jane reacts, john sees it live and adds his own', async () => {
  const m = message(jane.page, 'Hi Jane');
  await m.hover();
  await m.getByRole('button', { name: 'Add reaction' }).click();
  await m.getByRole('button', { name: 'React with +1' }).click();
  await m.locator('.reaction[aria-pressed="true"]', { hasText: '1' }).waitFor({ timeout: T });
  const theirs = message(john.page, 'Hi Jane').locator('.reaction', { hasText: '👍' });
  await theirs.locator('.count', { hasText: '1' }).waitFor({ timeout: T });
  await theirs.click();
  await m.locator('.reaction .count', { hasText: '2' }).waitFor({ timeout: T });
  await message(john.page, 'Hi Jane').locator('.reaction[aria-pressed="true"] .count', { hasText: '2' }).waitFor({ timeout: T });
});

await step('replies: john answers in a thread, jane sees the count and opens it', async () => {
  const m = message(john.page, 'Hello John!');
  await m.hover();
  await m.getByRole('button', { name: 'Reply in thread' }).click();
  const reply = john.page.getByLabel('Reply', { exact: true });
  await reply.fill('Answering in a thread');
  await reply.press('Enter');
  await john.page.locator('.thread .message .body', { hasText: 'Answering in a thread' }).waitFor({ timeout: T });
  await shot(john.page, 'phone-thread');
  await john.page.getByRole('button', { name: 'Close thread' }).click();
  const count = message(jane.page, 'Hello John!').locator('.replies', { hasText: '1 reply' });
  await count.waitFor({ timeout: T });
  // The reply does not appear in the main list.
  check((await conv(jane.page).locator('.timeline .message .body', { hasText: 'Answering in a thread' }).count()) === 0, 'the reply is shown in the main list');
  await count.click();
  await jane.page.locator('.thread .message .body', { hasText: 'Answering in a thread' }).waitFor({ timeout: T });
  const back = jane.page.getByLabel('Reply', { exact: true });
  await back.fill('Thanks!');
  await back.press('Enter');
  await message(jane.page, 'Hello John!').locator('.replies', { hasText: '2 replies' }).waitFor({ timeout: T });
  await message(john.page, 'Hello John!').locator('.replies', { hasText: '2 replies' }).waitFor({ timeout: T });
  await shot(jane.page, 'desktop-thread');
  await jane.page.getByRole('button', { name: 'Close thread' }).click();
});

await step('edit and delete her own messages; john sees both live', async () => {
  await send(jane.page, 'Lets met at 5');
  const m = message(jane.page, 'Lets met at 5');
  await m.locator('.receipt').waitFor({ timeout: T });
  await message(john.page, 'Lets met at 5').waitFor({ timeout: T });
  await m.hover();
  await m.getByRole('button', { name: 'Edit message' }).click();
  const edit = jane.page.getByRole('textbox', { name: 'Edit message' });
  await edit.fill("Let's meet at 5");
  await edit.press('Enter');
  const edited = message(john.page, "Let's meet at 5");
  await edited.locator('.edited').waitFor({ timeout: T });
  await send(jane.page, 'Oops, wrong chat');
  const wrong = message(jane.page, 'Oops, wrong chat');
  await message(john.page, 'Oops, wrong chat').waitFor({ timeout: T });
  await wrong.hover();
  await wrong.getByRole('button', { name: 'Delete message' }).click();
  await wrong.getByRole('button', { name: 'Delete', exact: true }).click();
  await conv(john.page).locator('.message.deleted .body', { hasText: 'This message was deleted.' }).waitFor({ timeout: T });
  await conv(jane.page).locator('.message.deleted .body', { hasText: 'This message was deleted.' }).waitFor({ timeout: T });
  check((await message(john.page, 'Oops, wrong chat').count()) === 0, 'the deleted text is still shown');
});

await step('mentions: "@jo" suggests john, Enter inserts <@john>, john sees himself mentioned', async () => {
  const input = composer(jane.page);
  await input.pressSequentially('Ping @jo', { delay: 20 });
  const option = jane.page.getByRole('option', { name: /John Smith/ });
  await option.waitFor({ timeout: T });
  await input.press('Enter');
  check((await input.inputValue()) === 'Ping <@john> ', `composer holds ${JSON.stringify(await input.inputValue())}`);
  await input.pressSequentially('look at this');
  await input.press('Enter');
  await conv(john.page).locator('.message .mention.self', { hasText: '@John Smith' }).waitFor({ timeout: T });
});

await step('file upload: progress while uploading, then an image preview for both', async () => {
  const image = await picture(jane.page);
  const cdp = await jane.context.newCDPSession(jane.page);
  // Slow the upload down so its progress can be seen.
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: Math.max(16 * 1024, image.length / 1.5) });
  await conv(jane.page).locator('input[type="file"]').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: image });
  const bar = conv(jane.page).locator('.pending progress');
  await bar.waitFor({ timeout: T });
  await jane.page.waitForFunction(() => {
    const p = document.querySelector('.pending progress');
    return !p || p.value > 0;
  }, null, { timeout: T });
  const loaded = (page) => page.waitForFunction(() => [...document.querySelectorAll('.conversation .file.image img.preview')].some((i) => i.complete && i.naturalWidth > 0 && i.closest('.message[data-id]')), null, { timeout: 20000 });
  await loaded(jane.page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await loaded(john.page);
  const src = await conv(john.page).locator('.file.image img.preview').first().getAttribute('src');
  check(src.includes('grant='), `image URL carries no read grant: ${src}`);
  await conv(jane.page).locator('figcaption', { hasText: 'sunset.png' }).waitFor({ timeout: T });
});

await step('message bodies are text, never HTML (XSS payload)', async () => {
  const payloads = ['<img src=x onerror="window.__xss=1">', '<script>window.__xss=2</script><b>bold</b>'];
  for (const payload of payloads) await send(jane.page, payload);
  for (const page of [john.page, jane.page]) {
    for (const payload of payloads) await conv(page).locator('.message .body', { hasText: payload }).waitFor({ timeout: T });
    check((await page.evaluate(() => window.__xss)) === undefined, 'the payload ran');
    check((await conv(page).locator('.message .body img, .message .body script, .message .body b').count()) === 0, 'an element was created from message text');
  }
  await channelItem(john.page, 'Jane Doe').count(); // the preview is text too
  check((await john.page.locator('.channel-item img:not(.avatar img)').count()) === 0, 'the channel list parsed HTML');
});

await step('a reload keeps jane signed in, in the same conversation; a new tab can be someone else', async () => {
  await jane.page.reload();
  await conv(jane.page).getByRole('heading', { name: 'John Smith' }).waitFor({ timeout: T });
  await message(jane.page, 'Hi Jane').waitFor({ timeout: T });
  const tab = await jane.context.newPage();
  await tab.goto(server.url);
  await tab.getByLabel('Username').waitFor({ timeout: T });
  await tab.close();
});

await shot(jane.page, 'desktop-conversation');
await shot(john.page, 'phone-conversation');

await step('unread badge counts messages in another channel, then clears when opened', async () => {
  await channelItem(jane.page, 'general').click();
  await conv(jane.page).getByRole('heading', { name: '# general' }).waitFor({ timeout: T });
  await send(john.page, 'Are you there?');
  await send(john.page, 'Jane?');
  const badge = channelItem(jane.page, 'John Smith').locator('.badge');
  await badge.filter({ hasText: /^2$/ }).waitFor({ timeout: T });
  await channelItem(jane.page, 'John Smith').locator('.channel-preview', { hasText: 'Jane?' }).waitFor({ timeout: T });
  // The conversation with the newest activity is listed first.
  check((await jane.page.locator('.channel-item').first().innerText()).includes('John Smith'), 'the active conversation is not first');
  await shot(jane.page, 'desktop-unread');
  await channelItem(jane.page, 'John Smith').click();
  await message(jane.page, 'Jane?').waitFor({ timeout: T });
  await badge.waitFor({ state: 'detached', timeout: T });
  await message(john.page, 'Jane?').locator('.receipt.read').waitFor({ timeout: T });
});

await step('channels: create a public channel; a duplicate name is refused with a message', async () => {
  const { page } = jane;
  await page.getByRole('button', { name: 'New channel' }).click();
  await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('random');
  await page.getByRole('button', { name: 'Create channel' }).click();
  await conv(page).getByRole('heading', { name: '# random' }).waitFor({ timeout: T });
  await page.getByRole('button', { name: 'New channel' }).click();
  await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('random');
  await page.getByRole('button', { name: 'Create channel' }).click();
  await page.getByRole('dialog').getByRole('alert').filter({ hasText: /already exists/ }).waitFor({ timeout: T });
  await shot(page, 'desktop-duplicate-channel');
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  for (let i = 1; i <= 60; i++) await send(page, `count ${String(i).padStart(2, '0')}`);
  await message(page, 'count 60').waitFor({ timeout: T });
});

await step('john browses public channels, joins, and scrolls back through the history', async () => {
  const { page } = john;
  await page.getByRole('link', { name: 'Back to conversations' }).click();
  await page.getByRole('button', { name: 'Browse' }).click();
  await page.getByRole('button', { name: 'Join random' }).click();
  await conv(page).getByRole('heading', { name: '# random' }).waitFor({ timeout: T });
  await message(page, 'count 60').waitFor({ timeout: T });
  const first = await conv(page).locator('.message .body', { hasText: /^count \d+$/ }).count();
  check(first < 60, `all ${first} messages came at once`);
  for (let i = 0; i < 20 && !(await message(page, 'count 01').count()); i++) {
    await conv(page).locator('.timeline').evaluate((el) => { el.scrollTop = 0; });
    await sleep(300);
  }
  await message(page, 'count 01').waitFor({ timeout: T });
  const texts = await conv(page).locator('.message .body').allInnerTexts();
  const history = texts.filter((t) => /^count \d+$/.test(t));
  check(history.length === 60 && new Set(history).size === 60, `expected 60 distinct messages, got ${history.length}`);
  const sorted = [...history].sort();
  check(history.join() === sorted.join(), 'messages are out of order');
  await conv(page).locator('.beginning').waitFor({ timeout: T });
});

await step('a channel in use: unread badge elsewhere, mention, image, reactions, a thread, typing', async () => {
  await jane.page.getByRole('button', { name: 'New channel' }).click();
  await jane.page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('weekend-trip');
  await jane.page.getByRole('button', { name: 'Create channel' }).click();
  await conv(jane.page).getByRole('heading', { name: '# weekend-trip' }).waitFor({ timeout: T });
  const { page } = john;
  await page.getByRole('link', { name: 'Back to conversations' }).click();
  await channelItem(page, 'general').click();
  await send(page, 'Morning everyone ☀️');
  await channelItem(jane.page, 'general').locator('.badge', { hasText: '1' }).waitFor({ timeout: T });
  await page.getByRole('link', { name: 'Back to conversations' }).click();
  await page.getByRole('button', { name: 'Browse' }).click();
  await page.getByRole('button', { name: 'Join weekend-trip' }).click();
  await conv(page).getByRole('heading', { name: '# weekend-trip' }).waitFor({ timeout: T });
  await send(page, 'Who is up for a hike on Saturday? ⛰️');
  await message(jane.page, 'Who is up for a hike').waitFor({ timeout: T });
  await send(jane.page, 'Me! <@john> shall we take the lake trail this time?');
  await message(page, 'shall we take the lake trail').waitFor({ timeout: T });
  await send(page, 'Yes! The view from up there last time:');
  await conv(page).locator('input[type="file"]').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: await picture(page) });
  const image = conv(jane.page).locator('.message[data-id] .file.image');
  await image.waitFor({ timeout: T });
  const react = async (text, alias) => {
    const m = text ? message(jane.page, text) : conv(jane.page).locator('.message[data-id]', { has: jane.page.locator('.file.image') });
    await m.hover();
    await m.getByRole('button', { name: 'Add reaction' }).click();
    await m.getByRole('button', { name: `React with ${alias}` }).click();
    await m.locator('.reaction[aria-pressed="true"]').first().waitFor({ timeout: T });
  };
  await react(null, 'heart');
  await react('Who is up for a hike', 'tada');
  const first = message(page, 'Who is up for a hike');
  await first.locator('.reaction').waitFor({ timeout: T });
  await first.locator('.reaction').click();
  await first.hover();
  await first.getByRole('button', { name: 'Reply in thread' }).click();
  await page.getByLabel('Reply', { exact: true }).fill('I will bring snacks 🍫');
  await page.getByLabel('Reply', { exact: true }).press('Enter');
  await page.getByRole('button', { name: 'Close thread' }).click();
  await message(jane.page, 'Who is up for a hike').locator('.replies', { hasText: '1 reply' }).waitFor({ timeout: T });
  await composer(page).pressSequentially('Meet at 8 at the', { delay: 30 });
  await jane.page.locator('.typing', { hasText: 'John Smith is typing…' }).waitFor({ timeout: T });
  await jane.page.mouse.move(5, 795);
  await composer(jane.page).focus();
  await sleep(300);
  await shot(jane.page, 'desktop-demo');
  await shot(page, 'phone-demo');
  await composer(page).fill('');
});

await step('report: john reports jane\'s message with a reason; it reaches the review queue', async () => {
  const { page } = john;
  const m = message(page, 'shall we take the lake trail');
  await m.hover();
  await m.getByRole('button', { name: 'Report message' }).click();
  const d = page.getByRole('dialog', { name: 'Report message' });
  await d.getByRole('radio', { name: 'Spam' }).check();
  await d.getByLabel(/^Details/).fill('testing the report button');
  await shot(page, 'phone-report');
  await d.getByRole('button', { name: 'Report', exact: true }).click();
  await page.locator('.toast', { hasText: 'Reported. The moderators will review it.' }).waitFor({ timeout: T });
  await d.waitFor({ state: 'detached', timeout: T });
  const flags = (await openFlags()).filter((f) => f.message?.body?.includes('shall we take the lake trail'));
  check(flags.length === 1, `expected one open flag for the message, got ${JSON.stringify(flags)}`);
  check(flags[0].reason === 'Spam: testing the report button', `reason ${flags[0].reason}`);
  check(flags[0].reporter?.name === 'john', `reporter ${flags[0].reporter?.name}`);
  // Nobody reports their own message.
  const own = message(jane.page, 'shall we take the lake trail');
  await own.hover();
  check((await own.getByRole('button', { name: 'Report message' }).count()) === 0, 'jane may report her own message');
});

await step('moderation: jane mutes john, whose message then fails with the mute shown; slow mode too', async () => {
  // Only the channel's moderator gets the controls.
  await conv(john.page).getByRole('heading', { name: '# weekend-trip' }).waitFor({ timeout: T });
  check((await conv(john.page).getByRole('button', { name: 'Moderate this channel' }).count()) === 0, 'john, not a moderator, sees the moderator controls');
  await conv(jane.page).getByRole('button', { name: 'Moderate this channel' }).click();
  const d = jane.page.getByRole('dialog', { name: 'Moderate #weekend-trip' });
  await d.getByLabel('Member', { exact: true }).selectOption('john');
  await d.getByLabel('For', { exact: true }).selectOption('600');
  await d.getByRole('button', { name: 'Mute', exact: true }).click();
  await d.getByRole('status').filter({ hasText: 'John Smith is muted for 10 minutes' }).waitFor({ timeout: T });
  await shot(jane.page, 'desktop-moderate');

  await send(john.page, 'Can I still talk?');
  const refused = conv(john.page).locator('.pending.failed', { hasText: 'Can I still talk?' });
  await refused.getByRole('alert').filter({ hasText: 'Not sent: A moderator muted you in channel weekend-trip.' }).waitFor({ timeout: T });
  await shot(john.page, 'phone-muted');
  check((await message(jane.page, 'Can I still talk?').count()) === 0, 'the muted message reached jane');
  check(!/null/.test(await refused.innerText()), `the failed message shows "null": ${await refused.innerText()}`);

  await d.getByRole('button', { name: 'Unmute', exact: true }).click();
  await d.getByRole('status').filter({ hasText: 'John Smith can post again.' }).waitFor({ timeout: T });
  await refused.getByRole('button', { name: 'Retry' }).click();
  await message(jane.page, 'Can I still talk?').waitFor({ timeout: T });

  await d.getByLabel('Slow mode').selectOption('30');
  await d.getByRole('button', { name: 'Set slow mode' }).click();
  await d.getByRole('status').filter({ hasText: 'Slow mode on: members wait 30 seconds between messages.' }).waitFor({ timeout: T });
  await send(john.page, 'First in slow mode');
  await message(jane.page, 'First in slow mode').waitFor({ timeout: T });
  await send(john.page, 'Second, too soon');
  const slow = conv(john.page).locator('.pending.failed', { hasText: 'Second, too soon' });
  await slow.getByRole('alert').filter({ hasText: /Slow mode: you may post in channel weekend-trip again in \d+ s\./ }).waitFor({ timeout: T });
  await d.getByLabel('Slow mode').selectOption('0');
  await d.getByRole('button', { name: 'Set slow mode' }).click();
  await d.getByRole('status').filter({ hasText: 'Slow mode is off.' }).waitFor({ timeout: T });
  await slow.getByRole('button', { name: 'Retry' }).click();
  await message(jane.page, 'Second, too soon').waitFor({ timeout: T });
  await d.getByRole('button', { name: 'Close' }).click();
});

await step('search: jane finds john\'s message and opens its channel from the results', async () => {
  const { page } = jane;
  await channelItem(page, 'John Smith').click();
  await conv(page).getByRole('heading', { name: 'John Smith' }).waitFor({ timeout: T });
  const box = page.getByRole('searchbox', { name: 'Search messages' });
  await box.fill('hike SATURDAY');
  await box.press('Enter');
  const results = page.getByRole('dialog', { name: /Messages with/ });
  const hit = results.locator('.search-result', { hasText: 'Who is up for a hike on Saturday?' });
  await hit.waitFor({ timeout: T });
  check((await hit.innerText()).includes('#weekend-trip'), `the result does not name its channel: ${await hit.innerText()}`);
  await shot(page, 'desktop-search');
  await hit.click();
  await conv(page).getByRole('heading', { name: '# weekend-trip' }).waitFor({ timeout: T });
  await message(page, 'Who is up for a hike on Saturday?').waitFor({ timeout: T });
  // No match, and a refused query, are said so.
  await box.fill('zebra');
  await box.press('Enter');
  await page.getByRole('dialog', { name: /Messages with/ }).getByText('No message has every word of “zebra”').waitFor({ timeout: T });
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await box.fill('one two three four five six seven eight nine');
  await box.press('Enter');
  await page.getByRole('dialog', { name: /Messages with/ }).getByRole('alert').waitFor({ timeout: T });
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
});

await step('john loses his network: banner, then catch-up without duplicates when it returns', async () => {
  await channelItem(jane.page, 'John Smith').click();
  await john.page.getByRole('link', { name: 'Back to conversations' }).click();
  await channelItem(john.page, 'Jane Doe').click();
  await message(john.page, 'Jane?').waitFor({ timeout: T });
  john.cut = true;
  for (const { ws, server: s } of john.sockets) {
    await ws.close({ code: 1006, reason: 'network down' }).catch(() => {});
    await s.close().catch(() => {});
  }
  john.sockets.clear();
  const banner = john.page.locator('.banner', { hasText: 'offline' });
  await banner.waitFor({ state: 'visible', timeout: T });
  await shot(john.page, 'phone-offline');
  await send(jane.page, 'Sent while you were away');
  await message(jane.page, 'Sent while you were away').locator('.receipt').waitFor({ timeout: T });
  await sleep(500);
  john.cut = false;
  await banner.waitFor({ state: 'hidden', timeout: 20000 });
  await message(john.page, 'Sent while you were away').waitFor({ timeout: T });
  await sleep(500);
  check((await message(john.page, 'Sent while you were away').count()) === 1, 'the missed message is shown twice');
  const ids = await conv(john.page).locator('.message[data-id]').evaluateAll((els) => els.map((e) => e.dataset.id));
  check(new Set(ids).size === ids.length, 'a message is shown twice after catching up');
  await send(john.page, 'Back on the network');
  await message(jane.page, 'Back on the network').waitFor({ timeout: T });
});

await step('offline outbox: john sends while his network is cut and reloads; it arrives once', async () => {
  john.cut = true;
  for (const { ws, server: s } of john.sockets) {
    await ws.close({ code: 1006, reason: 'network down' }).catch(() => {});
    await s.close().catch(() => {});
  }
  john.sockets.clear();
  await john.page.locator('.banner', { hasText: 'offline' }).waitFor({ state: 'visible', timeout: T });
  await send(john.page, 'Kept on the device');
  await conv(john.page).locator('.pending .body', { hasText: 'Kept on the device' }).waitFor({ timeout: T });
  // Written to IndexedDB before it is sent; let the reconnect backoff grow so the old
  // page does not send it in the moment before it goes.
  await sleep(3000);
  john.cut = false;
  await john.page.reload();
  // The reloaded page signs in again (back in the same conversation) and its outbox
  // sends what the last page left.
  await message(jane.page, 'Kept on the device').waitFor({ timeout: T });
  await message(john.page, 'Kept on the device').waitFor({ timeout: T });
  await sleep(1000);
  check((await message(jane.page, 'Kept on the device').count()) === 1, 'the kept message is shown twice for jane');
  check((await message(john.page, 'Kept on the device').count()) === 1, 'the kept message is shown twice for john');
  // The strip telling of messages an earlier page left is gone once they are sent.
  await john.page.locator('.banner.outbox').waitFor({ state: 'hidden', timeout: T });
});

await server.stop();
const banners = [jane.page, john.page].map((p) => p.locator('.banner', { hasText: 'offline' }));

await step('the server stops: both people see the offline banner', async () => {
  for (const [i, b] of banners.entries()) {
    await b.waitFor({ state: 'visible', timeout: T }).catch((e) => {
      throw new Error(`${['jane', 'john'][i]}: ${e.message.split('\n')[0]}`);
    });
  }
  await shot(jane.page, 'desktop-offline');
});

await step('the server is back: a message sent while it was down arrives, banners go, live again', async () => {
  try {
    await send(jane.page, 'Sent while the server was down');
    await conv(jane.page).locator('.pending .body', { hasText: 'Sent while the server was down' }).waitFor({ timeout: T });
    await sleep(1000);
  } finally {
    await server.start();
  }
  await message(john.page, 'Sent while the server was down').waitFor({ timeout: 30000 });
  await conv(jane.page).locator('.message[data-id] .body', { hasText: 'Sent while the server was down' }).waitFor({ timeout: 15000 });
  for (const b of banners) await b.waitFor({ state: 'hidden', timeout: T });
  check((await message(jane.page, 'Sent while the server was down').count()) === 1, 'the message is shown twice for jane');
  check((await message(john.page, 'Sent while the server was down').count()) === 1, 'the message is shown twice for john');
  await send(john.page, 'After the restart');
  await message(jane.page, 'After the restart').waitFor({ timeout: T });
  await send(jane.page, 'Still here');
  await message(john.page, 'Still here').waitFor({ timeout: T });
});

await step('presence: john closes his page and jane sees him go offline', async () => {
  await conv(jane.page).locator('[data-member="john"].online').waitFor({ timeout: T });
  await john.context.close();
  await conv(jane.page).locator('[data-member="john"]:not(.online)').waitFor({ timeout: T });
  await conv(jane.page).locator('.conversation-subtitle', { hasText: 'Offline' }).waitFor({ timeout: T });
  await channelItem(jane.page, 'John Smith').locator('.dot:not(.online)').waitFor({ timeout: T });
});

await step('sign out returns to the sign-in form', async () => {
  await jane.page.getByRole('button', { name: 'Sign out' }).click();
  await jane.page.getByLabel('Username').waitFor({ timeout: T });
  await jane.page.reload();
  await jane.page.getByLabel('Username').waitFor({ timeout: T });
});

await jane.context.close();

if (!process.env.SKIP_WEBPACK) {
  await step('the webpack build loads, signs in and chats', async () => {
    const other = await startServer({ staticDir: join(www, 'dist-webpack') });
    try {
      const w = await open(browser, other.url, 'webpack', DESKTOP);
      await signIn(w.page, 'webby', 'Webpack User');
      await channelItem(w.page, 'general').click();
      await send(w.page, 'Built with webpack');
      await message(w.page, 'Built with webpack').locator('.receipt').waitFor({ timeout: T });
      await w.context.close();
    } finally {
      await other.close();
    }
  });
}

await step('no page errors', async () => {
  check(errors.length === 0, errors.join('\n'));
});

await browser.close();
await server.close();
const failed = results.filter((r) => !r.ok).length;
console.log(`\ndemo e2e: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
