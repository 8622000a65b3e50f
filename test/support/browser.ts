// Debian's Chromium (installed by test/lab/setup), driven headless by playwright-core, with the
// flags this machine needs: no background networking, updates or sync (their connections are
// refused here), no sandbox (root), no GPU, a fresh profile. For the HTML report's tests.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export interface Headless {
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Headless> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: test/lab/setup installs Debian's chromium`);
  const profile = mkdtempSync(join(tmpdir(), "chaos-run-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1000, height: 800 },
    deviceScaleFactor: 1,
  });
  return {
    browser: context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type { Browser };
