// The keys of `appctl top`: one table from key to command, from which the footer and the help screen
// are drawn too, so what is shown is what works. Run by appctl.

export const KEY_COMMANDS = [
  'up',
  'down',
  'page-up',
  'page-down',
  'first',
  'last',
  'scale-up',
  'scale-down',
  'reload',
  'restart-worker',
  'upgrade',
  'toggle-logs',
  'help',
  'quit',
  'confirm',
  'cancel',
] as const;
export type KeyCommand = (typeof KEY_COMMANDS)[number];

export interface KeyBinding {
  /** Key names as the terminal layer reports them: "up", "C-c", "+", "S-k" (shifted letter). */
  readonly keys: readonly string[];
  readonly command: KeyCommand;
  /** What the help screen says (at most 60 characters); without it the key is listed with the one before. */
  readonly help?: string;
  /** The footer's short form (unicode, ascii), if the footer shows it. */
  readonly footer?: readonly [unicode: string, ascii: string];
}

export const KEY_BINDINGS: readonly KeyBinding[] = [
  { keys: ['up'], command: 'up', help: 'select a row: the pools, then their workers', footer: ['↑↓ select', 'up/down select'] },
  { keys: ['down'], command: 'down' },
  { keys: ['pageup'], command: 'page-up', help: 'ten rows up or down' },
  { keys: ['pagedown'], command: 'page-down' },
  { keys: ['home'], command: 'first', help: 'the first or the last row' },
  { keys: ['end'], command: 'last' },
  { keys: ['+', '='], command: 'scale-up', help: 'one worker more or fewer in the pool (appctl scale)', footer: ['+- scale', '+- scale'] },
  { keys: ['-', '_'], command: 'scale-down' },
  { keys: ['r'], command: 'reload', help: 'reload the pool, with progress (appctl reload)', footer: ['r reload', 'r reload'] },
  {
    keys: ['k'],
    command: 'restart-worker',
    help: 'restart the worker or failed slot (appctl restart POOL SLOT)',
    footer: ['k restart', 'k restart'],
  },
  { keys: ['u'], command: 'upgrade', help: 'upgrade the master, after y/n (appctl upgrade)', footer: ['u upgrade', 'u upgrade'] },
  { keys: ['l'], command: 'toggle-logs', help: 'show or hide the log pane', footer: ['l logs', 'l logs'] },
  { keys: ['?', 'h'], command: 'help', help: 'this help; any key closes it', footer: ['? help', '? help'] },
  { keys: ['q', 'C-c'], command: 'quit', help: 'quit (the daemon keeps running)', footer: ['q quit', 'q quit'] },
  { keys: ['y', 'S-y'], command: 'confirm', help: 'yes or no, when asked' },
  { keys: ['n', 'S-n', 'escape'], command: 'cancel' },
];

const BY_KEY: ReadonlyMap<string, KeyCommand> = new Map(
  KEY_BINDINGS.flatMap((binding) => binding.keys.map((key) => [key, binding.command] as const)),
);

export function commandForKey(key: string): KeyCommand | null {
  return BY_KEY.get(key) ?? null;
}
