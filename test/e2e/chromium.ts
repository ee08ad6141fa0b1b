// Debian's Chromium, driven by playwright-core. Never downloads a browser:
// the executable is whatever `command -v chromium` finds (CI installs the
// Debian package), and every run gets a fresh profile directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const chromium_args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export function chromium_path(): string {
  let found = '';
  try {
    found = execFileSync('bash', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    // not on PATH: reported below
  }
  if (found === '') throw new Error('chromium is not installed: apt-get install chromium (Debian package; the tests never download a browser)');
  return found;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

export async function launch_chromium(viewport = { width: 1440, height: 860 }): Promise<Browser> {
  const profile_dir = mkdtempSync(join(tmpdir(), 'depthcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile_dir, {
    executablePath: chromium_path(),
    headless: true,
    args: chromium_args,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile_dir, { recursive: true, force: true });
    },
  };
}
