import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * Debian's Chromium, headless. Without the background-networking flags Chromium reaches out to
 * Google on start, which a closed network refuses (and a test should not depend on).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ChromiumPages {
  /** A browser context of its own, closed after the test; what its pages refuse is not checked. */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  /**
   * A page at `url` in a context of its own (closed after the test), each wait on it 8 s at most.
   * What Chromium refuses on it (its Content Security Policy costing it a script, a style or an
   * image) fails the test.
   */
  open(url: string, options: BrowserContextOptions): Promise<Page>;
}

/** For a test file: one Chromium for the whole file (launchChromium), its pages' contexts closed after each test. */
export function useChromium(): ChromiumPages {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const refusals: string[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    await Promise.allSettled(contexts.splice(0).map((c) => c.close()));
    expect(refusals.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  const context = async (options?: BrowserContextOptions): Promise<BrowserContext> => {
    if (!browser) throw new Error('Chromium is not running: call useChromium() at the top of the test file, and open pages inside tests');
    const opened = await browser.newContext(options);
    contexts.push(opened);
    return opened;
  };
  return {
    context,
    async open(url, options) {
      const page = await (await context(options)).newPage();
      page.setDefaultTimeout(8000);
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) refusals.push(message.text());
      });
      await page.goto(url);
      return page;
    },
  };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Waits until the element's whole text is `text` (or matches it). */
export const shows = (locator: Locator, text: string | RegExp): Promise<void> =>
  locator.filter({ hasText: typeof text === 'string' ? new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) : text }).waitFor();
