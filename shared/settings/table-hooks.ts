// Settings table, part 3: hooks, functions exported by a JS config file and run in the master.
// Read by the appd master; a throwing hook is logged with its name and never stops the master.

import { defineSetting, type SettingSpec } from './define.js';
import { kinds, type HookFunction } from './kinds.js';

function hook<const Key extends string>(key: Key, summary: string, doc: string): SettingSpec<Key, HookFunction | null> {
  return defineSetting({ key, section: 'Hooks', kind: kinds.hook, default: null, cli: 'config-only', reload: 'live', summary, doc });
}

export const HOOK_SETTINGS = [
  hook('onStarting', 'Called before the master binds its sockets: onStarting(server).', 'server is { name, pid, config }.'),
  hook(
    'whenReady',
    'Called when the first generation of workers is ready: whenReady(server).',
    'The daemon is serving; --daemon returns after this.',
  ),
  hook('preFork', 'Called before a worker is spawned: preFork(server, worker).', 'worker is { pool, slot, generation }.'),
  hook(
    'postFork',
    'Called after a worker is spawned: postFork(server, worker).',
    'worker is { pool, slot, generation, pid }. It runs in the master: appd spawns fresh node processes, it does not fork.',
  ),
  hook('workerExit', 'Called after a worker exited: workerExit(server, worker, exit).', 'exit is { code, signal }.'),
  hook('onReload', 'Called when a reload starts: onReload(server).', 'After the config file was read again and validated.'),
  hook('onExit', 'Called just before the master exits: onExit(server).', 'Every worker is gone by then.'),
] as const;
