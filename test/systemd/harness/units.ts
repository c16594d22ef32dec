// What a real-systemd test installs in its sandbox: the shipped systemd/appd.* units with only the
// ExecStart/ExecReload commands pointed at this checkout and this Node, an "appd" user, and per app a
// directory /srv/NAME with its config. Runs in the ava test process (builds files for sandbox.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../helpers/daemon.js';
import { NODE_INSIDE, PROJECT_INSIDE, shellQuote } from './boot-scripts.js';

/** appd and appctl as the units inside run them. */
export const APPD_INSIDE = `${NODE_INSIDE} ${PROJECT_INSIDE}/dist/daemon/appd.cjs`;
export const APPCTL_INSIDE = `${NODE_INSIDE} ${PROJECT_INSIDE}/dist/ctl/appctl.cjs`;
/** The fixture every sandboxed app serves (see test/fixtures/held-response-app.mjs). */
export const APP_INSIDE = `${PROJECT_INSIDE}/test/fixtures/held-response-app.mjs:create()`;

/** A shipped unit file's text with its commands run from this checkout; nothing else changed. */
export function shippedUnit(file: 'appd.service' | 'appd@.service' | 'appd.socket'): string {
  const text = readFileSync(join(PROJECT_ROOT, 'systemd', file), 'utf8');
  return text.replace(/^ExecStart=appd /m, `ExecStart=${APPD_INSIDE} `).replace(/^ExecReload=appctl /m, `ExecReload=${APPCTL_INSIDE} `);
}

export interface AppOptions {
  /** The unit's name: /etc/systemd/system/NAME.service, /srv/NAME. */
  readonly name: string;
  /** The app's config (appd.config(5)) besides the app itself. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Drop-in lines for [Service] (a test's shorter timeouts), in NAME.service.d/test.conf. */
  readonly serviceDropIn?: string;
  /** The unit's text; the shipped appd.service by default. */
  readonly unit?: string;
}

/** Files (path inside -> content) for one app; appSetup() gives their owner. */
export function appFiles({ name, config, serviceDropIn, unit }: AppOptions): Record<string, string> {
  const files: Record<string, string> = {
    [`/etc/systemd/system/${name}.service`]: unit ?? shippedUnit('appd.service'),
    [`/srv/${name}/appd.config.mjs`]: `export default ${JSON.stringify({ app: APP_INSIDE, ...config }, null, 2)};\n`,
  };
  if (serviceDropIn !== undefined) files[`/etc/systemd/system/${name}.service.d/test.conf`] = `[Service]\n${serviceDropIn}\n`;
  return files;
}

/** The setup for the apps' users and directories (run in a chroot before boot). */
export function appSetup(names: readonly string[]): string {
  return [
    'useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin appd',
    ...names.map((name) => `chown -R appd:appd ${shellQuote(`/srv/${name}`)}`),
  ].join('\n');
}
