/** Debian's Chromium driven by playwright-core, headless, for the console's page tests. */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;

/**
 * Starts Chromium. --no-sandbox: CI runs as root, where Chromium's sandbox cannot start; the
 * background-networking flags keep it from calling out of this closed machine at every start.
 */
export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error('chromium is not installed (.ci/run installs it)');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The text of the first element matching `selector`, or null when there is none (no waiting). */
export async function textOf(page: Page, selector: string): Promise<string | null> {
  const e = await page.$(selector);
  return e ? e.textContent() : null;
}
