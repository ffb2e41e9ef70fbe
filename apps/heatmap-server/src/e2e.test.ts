import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVIEWER, startTestServer, type TestServer } from './test-server.test-helpers.js';
import { syntheticVolume } from './testing/synthetic-volume.js';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium for this test`);
}

// Flags for this machine's closed network (see shared docs): no background connections.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebGL2 for niivue from the software rasteriser, since there is no GPU.
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

let server: TestServer;
let browser: Browser;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  server = await startTestServer();
  profile = await mkdtemp(join(tmpdir(), 'anymc3d-chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, `--user-data-dir=${profile}`].filter((f) => !f.startsWith('--user-data-dir')),
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function signIn(page: Page, url: string): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.fill('#token', REVIEWER);
  await page.click('#token-form button');
  await page.waitForSelector('#upload-plugins input[value="chest-effusion"]');
  expect(errors).toEqual([]);
}

/** Interval polling: a page busy drawing WebGL in software can starve animation-frame polling. */
async function waitForBody(page: Page, key: string, value: string): Promise<void> {
  type Dom = { document: { body: { dataset: Record<string, string | undefined> } } };
  await page.waitForFunction(
    ([k, v]) => (globalThis as unknown as Dom).document.body.dataset[k as string] === v,
    [key, value],
    { polling: 100, timeout: 60_000 },
  );
}

async function canvasPixels(page: Page): Promise<PNG> {
  // A page screenshot clipped to the canvas: what a person sees, without the element-stability
  // wait (animation-frame based) that a software-rendered WebGL page can starve.
  const box = await page.locator('#viewer').boundingBox();
  if (!box) throw new Error('the viewer canvas is not laid out');
  return PNG.sync.read(await page.screenshot({ clip: box, timeout: 60_000 }));
}

describe.skipIf(!existsSync(CHROMIUM))('reviewer page in headless Chromium', () => {
  it('uploads a case, shows the heatmap overlay, takes a review that survives a restart', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const t0 = Date.now();
    const step = (name: string) => process.env.E2E_SHOTS && console.log(`${name}: ${Date.now() - t0} ms`);
    await signIn(page, server.url);

    await page.setInputFiles('#upload-file', {
      name: 'chest.nii.gz',
      mimeType: 'application/gzip',
      buffer: Buffer.from(await syntheticVolume([48, 40, 24])),
    });
    await page.click('#upload-form button[type=submit]');
    await waitForBody(page, 'viewer', 'ready');
    step('viewer ready');
    await expect.poll(() => page.locator('#predictions tbody tr').count()).toBe(3);

    // The overlay is drawn: the canvas with the heatmap at full opacity differs from opacity 0.
    await page.locator('#opacity').fill('0');
    await waitForBody(page, 'overlayOpacity', '0');
    const alone = await canvasPixels(page);
    await page.locator('#opacity').fill('1');
    await waitForBody(page, 'overlayOpacity', '1');
    const overlaid = await canvasPixels(page);
    step('screenshots');
    expect([overlaid.width, overlaid.height]).toEqual([alone.width, alone.height]);
    let lit = 0;
    let changed = 0;
    for (let p = 0; p < alone.data.length; p += 4) {
      if ((alone.data[p] as number) + (alone.data[p + 1] as number) + (alone.data[p + 2] as number) > 60) lit++;
      const d =
        Math.abs((alone.data[p] as number) - (overlaid.data[p] as number)) +
        Math.abs((alone.data[p + 1] as number) - (overlaid.data[p + 1] as number)) +
        Math.abs((alone.data[p + 2] as number) - (overlaid.data[p + 2] as number));
      if (d > 30) changed++;
    }
    const pixels = alone.width * alone.height;
    expect(lit / pixels).toBeGreaterThan(0.05); // the image itself is drawn
    expect(changed / pixels).toBeGreaterThan(0.01); // and the overlay changes a visible part of it
    await page.screenshot({ path: join(server.dataDir, 'e2e-page.png') });
    if (process.env.E2E_SHOTS) {
      await page.screenshot({ path: join(process.env.E2E_SHOTS, 'page.png') });
    }

    // The case's report opens from the page (fetched with the token, shown from memory).
    const [popup] = await Promise.all([
      page.waitForEvent('popup'),
      page.click('#reports button[data-report$="/reports/chest-effusion.html"]'),
    ]);
    await popup.waitForLoadState();
    const reportText = await popup.textContent('body');
    expect(reportText).toContain('chest.nii.gz · effusion');
    expect(reportText).toContain('Pleural effusion');
    await popup.close();

    // A review: agree with the first label, disagree with the second.
    await page.locator('#predictions tbody tr').nth(0).locator('input[value="agree"]').check();
    await page.locator('#predictions tbody tr').nth(1).locator('input[value="disagree"]').check();
    await page.fill('#comment', 'overlay over the bright sphere');
    await page.click('#review-form button[type=submit]');
    await expect.poll(() => page.textContent('#review-status')).toBe('review saved');
    await expect.poll(() => page.textContent('#reviews')).toContain('Dr. Browser');
    await page.close();

    server = await server.restart();
    const again = await browser.newPage();
    await signIn(again, server.url);
    await again.click('#case-list button');
    await waitForBody(again, 'viewer', 'ready');
    const reviews = await again.textContent('#reviews');
    expect(reviews).toContain('Dr. Browser');
    expect(reviews).toContain('Pleural effusion: agree');
    expect(reviews).toContain('Cardiomegaly: disagree');
    await again.close();
  });
});
