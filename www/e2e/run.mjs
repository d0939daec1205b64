// The demo app end to end: two people sign in, open a direct conversation and chat,
// in headless Chromium against a live server serving the built app (www/dist).
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser } from '../../tests/harness/lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, 'screenshots');
mkdirSync(shots, { recursive: true });

const server = await startServer({ apiKey: 'demo', staticDir: join(here, '../dist') });
const browser = await launchBrowser();
const tag = Date.now().toString(36);
const names = { jane: `jane-${tag}`, john: `john-${tag}` };
let failures = 0;

async function person(name, viewport = { width: 1100, height: 760 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  [${name}] page error: ${e}`));
  await page.goto(`http://${server.host}/`);
  await page.getByLabel('Username').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Message someone').waitFor();
  return page;
}

async function step(title, fn) {
  try {
    await fn();
    console.log(`  ok    ${title}`);
  } catch (e) {
    failures += 1;
    console.log(`  FAIL  ${title}\n        ${String(e).split('\n').slice(0, 3).join('\n        ')}`);
  }
}

const jane = await person(names.jane);
const john = await person(names.john, { width: 375, height: 740 });

await step('jane opens a direct conversation with john and sends a message', async () => {
  await jane.getByLabel('Message someone').fill(names.john);
  await jane.getByRole('button', { name: 'Open' }).click();
  await jane.getByLabel('Message', { exact: true }).fill('Hello John!');
  await jane.getByLabel('Message', { exact: true }).press('Enter');
  await jane.locator('.message.mine .body', { hasText: 'Hello John!' }).waitFor();
});

await step('john opens the same conversation and finds the message in its history', async () => {
  await john.getByLabel('Message someone').fill(names.jane);
  await john.getByRole('button', { name: 'Open' }).click();
  await john.locator('.message .body', { hasText: 'Hello John!' }).waitFor({ timeout: 5000 });
});

await step('john types and jane sees "is typing"', async () => {
  await john.getByLabel('Message', { exact: true }).pressSequentially('Hi', { delay: 50 });
  await jane.locator('.typing', { hasText: `${names.john} is typing` }).waitFor({ timeout: 5000 });
});

await step('john replies and jane receives it live', async () => {
  await john.getByLabel('Message', { exact: true }).press('Enter');
  await jane.locator('.message .body', { hasText: /^Hi$/ }).waitFor({ timeout: 5000 });
  await jane.locator('.typing', { hasText: /^$/ }).waitFor({ timeout: 5000 });
});

await step('message bodies are text, never HTML', async () => {
  const payload = '<img src=x onerror="window.__xss=1">';
  await jane.getByLabel('Message', { exact: true }).fill(payload);
  await jane.getByLabel('Message', { exact: true }).press('Enter');
  await john.locator('.message .body', { hasText: payload }).waitFor({ timeout: 5000 });
  const ran = await john.evaluate(() => window.__xss);
  if (ran !== undefined) throw new Error('the payload ran');
  if (await john.locator('.message .body img').count()) throw new Error('an <img> element was created');
});

await jane.screenshot({ path: join(shots, 'demo-desktop.png') });
await john.screenshot({ path: join(shots, 'demo-375.png') });

await browser.close();
await server.stop();
console.log(failures ? `\ndemo e2e: ${failures} failed` : '\ndemo e2e: all passed');
process.exit(failures ? 1 : 0);
