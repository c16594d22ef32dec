// Renders the settings table as roff: the SETTINGS section of appd(8) (every flag and config key with
// its doc, default and reload behaviour) and the key list of appd.config(5). Run by `npm run man` and tests.

import { flagName, kebabCase, SECTIONS, type AnySetting, type ReloadBehaviour } from '../shared/settings/define.js';
import { SETTINGS } from '../shared/settings/table.js';
import { escapeRoff, roffParagraph } from './roff.js';

const RELOAD_TEXT: Record<ReloadBehaviour, string> = {
  live: 'A reload (HUP, appctl reload) applies it.',
  workers: 'A reload applies it to the new generation of workers.',
  restart: 'Only a new master applies it (appctl upgrade, or a restart).',
};

export function defaultText(setting: AnySetting): string {
  if (typeof setting.default === 'function') {
    if (!setting.defaultText) throw new Error(`setting ${setting.key} has a computed default but no defaultText to document it`);
    return setting.defaultText;
  }
  return setting.defaultText ?? (setting.kind.format(setting.default as never) || '""');
}

/** The tag line of a setting: "-w, --workers INT|auto", "--daemon", "APP", or the config key for hooks. */
function tagLine(setting: AnySetting): string {
  if (setting.cli === 'positional') return `\\fI${setting.key.toUpperCase()}\\fR (the argument)`;
  if (setting.cli === 'config-only') return `\\fB${setting.key}\\fR (config file only)`;
  if (setting.cli === 'after-dashes') return `\\fB\\-\\-\\fR \\fI${escapeRoff(setting.kind.meta)}\\fR...`;
  const names = [setting.short, flagName(setting)].filter((name): name is string => Boolean(name));
  const flags = names.map((name) => `\\fB${escapeRoff(name)}\\fR`).join(', ');
  return setting.kind.isFlag ? flags : `${flags} \\fI${escapeRoff(setting.kind.meta)}\\fR`;
}

function whereGiven(setting: AnySetting): string {
  if (setting.cli === 'config-only') return `Config key: ${setting.key}.`;
  if (setting.cli === 'cli-only') return 'Command line and APPD_CMD_ARGS only.';
  if (setting.cli === 'after-dashes')
    return `Config key: ${setting.key}, a list. On the command line (and in APPD_CMD_ARGS), every argument after --.`;
  const key = kebabCase(setting.key) === setting.key ? setting.key : `${setting.key} (or "${kebabCase(setting.key)}")`;
  const negation = setting.kind.isFlag ? ` ${flagName(setting).replace(/^--/, '--no-')} turns it off.` : '';
  const repeat = setting.kind.repeatable ? ' Repeat the flag for several; a config file gives a list.' : '';
  return `Config key: ${key}.${negation}${repeat}`;
}

function settingEntry(setting: AnySetting): string {
  const facts = [
    `Default: ${defaultText(setting)}.`,
    whereGiven(setting),
    RELOAD_TEXT[setting.reload],
    setting.perPool ? 'A pool may set its own value.' : '',
  ].filter(Boolean);
  return ['.TP', tagLine(setting), roffParagraph(`${setting.summary} ${setting.doc}`), '.IP', roffParagraph(facts.join(' '))].join('\n');
}

/** The body of appd(8)'s SETTINGS section, one subsection per table section, in table order. */
export function renderSettingsSection(): string {
  const parts: string[] = [];
  for (const section of SECTIONS) {
    const settings = SETTINGS.filter((setting) => setting.section === section);
    if (settings.length === 0) continue;
    parts.push(`.SS ${section}`, ...settings.map(settingEntry));
  }
  return parts.join('\n');
}

/** appd.config(5)'s list of keys: key, value type, default, summary. */
export function renderConfigKeys(): string {
  return SETTINGS.filter((setting) => setting.section !== 'Hooks' && setting.cli !== 'cli-only')
    .map((setting) => {
      const type = setting.kind.repeatable ? `${setting.kind.meta} list` : setting.kind.meta;
      return [
        '.TP',
        `\\fB${setting.key}\\fR \\fI${escapeRoff(type)}\\fR`,
        roffParagraph(`${setting.summary} Default: ${defaultText(setting)}.`),
      ].join('\n');
    })
    .join('\n');
}

/** appd.config(5)'s list of hooks with their signatures. */
export function renderHooks(): string {
  return SETTINGS.filter((setting) => setting.section === 'Hooks')
    .map((setting) => ['.TP', `\\fB${setting.key}\\fR`, roffParagraph(`${setting.summary} ${setting.doc}`)].join('\n'))
    .join('\n');
}
