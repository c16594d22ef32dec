// `appctl top` without a terminal to drive (output piped, TERM=dumb): the same header and tables as
// plain text, a frame every two seconds like `top -b`, until interrupted. Run by appctl.

import type { ControlClient } from '../client/connection.js';
import { CTL_EXIT } from '../client/errors.js';
import { DaemonFeed } from './feed.js';
import { TopModel } from './model.js';
import { renderPlainFrame } from './render.js';
import { localeIsUnicode, plainPainter } from './style.js';

const FRAME_INTERVAL_MS = 2000;
const DEFAULT_WIDTH = 80;
const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function runPlainFrames(client: ControlClient): Promise<number> {
  const model = new TopModel(client.daemon);
  const painter = plainPainter(localeIsUnicode(process.env) && process.env['TERM'] !== 'dumb');
  let timer: NodeJS.Timeout | null = null;
  const print = (): void => {
    const width = process.stdout.columns || DEFAULT_WIDTH;
    process.stdout.write(`${renderPlainFrame(model, width, painter, Date.now()).join('\n')}\n\n`);
  };
  const feed = new DaemonFeed(client.path, {
    connected: (daemon) => model.connected(daemon),
    disconnected: (reason) => model.disconnected(reason, Date.now()),
    snapshot: (snapshot, time) => {
      model.update(snapshot, time);
      // The first frame as soon as there is something to show, then at a steady pace.
      if (timer === null) {
        print();
        timer = setInterval(print, FRAME_INTERVAL_MS);
      }
    },
    logLines: () => undefined,
  });
  return new Promise((settle) => {
    const finish = (): void => {
      if (timer) clearInterval(timer);
      feed.close();
      for (const signal of ENDING_SIGNALS) process.off(signal, finish);
      settle(CTL_EXIT.ok);
    };
    // Interrupting is the normal way out (exit 0); so is a reader that went away (appctl top | head).
    for (const signal of ENDING_SIGNALS) process.on(signal, finish);
    process.stdout.once('error', finish);
    feed.start(client);
  });
}
