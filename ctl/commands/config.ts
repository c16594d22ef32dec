// `appctl config [--json]`: every setting the running daemon uses, its value and where it came from
// (a restart-only setting changed by a reload shows the value a new master would take). Run by appctl.

import type { SettingStatus } from '../../shared/control/status.js';
import { isSettingRows, replyData } from '../client/reply-data.js';
import { QUICK_TIMEOUT_MS, type Register } from './context.js';
import { CTL_EXIT, ControlFailure } from '../client/errors.js';
import { renderTable } from '../render/table.js';

function sourceText(row: SettingStatus): string {
  return row.pending === undefined ? row.source : `${row.source}; after a restart: ${row.pending}`;
}

export const registerConfig: Register = (program, run) => {
  program
    .command('config')
    .description('show the effective settings and their sources (default, config file, APPD_CMD_ARGS, command line)')
    .action(() =>
      run(async (context) => {
        const client = await context.connect(undefined, context.timeoutMs(QUICK_TIMEOUT_MS));
        try {
          const outcome = await client.request({ command: 'config' });
          if (outcome.status !== 'completed') throw new ControlFailure(outcome.message);
          const rows = replyData(outcome, 'config', isSettingRows, 'a list of settings');
          if (context.json) {
            // Typed values (2048, not "2048"); a pool's own settings as "pools.NAME.KEY".
            context.printJson(
              Object.fromEntries(
                rows.map((row) => [
                  row.key,
                  { value: row.json, source: row.source, ...(row.pending === undefined ? {} : { pending: row.pendingJson }) },
                ]),
              ),
            );
          } else {
            const table = renderTable(
              [{ header: 'SETTING' }, { header: 'VALUE', wrap: true }, { header: 'SOURCE' }],
              rows.map((row) => [row.key, row.value === '' ? '""' : row.value, sourceText(row)]),
            );
            context.print(table.join('\n'));
          }
          return CTL_EXIT.ok;
        } finally {
          client.close();
        }
      }),
    );
};
