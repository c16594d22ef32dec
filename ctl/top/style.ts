// How `appctl top` marks text: a role per piece (selected, good, bad …) becomes blessed tags in colour,
// bold and inverse only (NO_COLOR, a terminal without colours), or nothing (plain frames). Run by appctl.

export type Role = 'title' | 'heading' | 'dim' | 'good' | 'warn' | 'bad' | 'selected' | 'key' | 'chart';

export interface Painter {
  /** Marks text that is already padded to its width; the visible width does not change. */
  paint(text: string, role: Role): string;
  /** Makes any text (log lines, names) safe to place among marks. */
  escape(text: string): string;
  /** Block characters and arrows may be used (a UTF-8 locale). */
  readonly unicode: boolean;
}

type Marks = Readonly<Record<Role, readonly [open: string, close: string] | null>>;

const COLOUR_MARKS: Marks = {
  title: ['{bold}', '{/bold}'],
  heading: ['{bold}{underline}', '{/underline}{/bold}'],
  // No grey: an 8-colour terminal (TERM=screen) reduces it to black, invisible on a dark background.
  dim: null,
  good: ['{green-fg}', '{/green-fg}'],
  warn: ['{yellow-fg}', '{/yellow-fg}'],
  bad: ['{red-fg}{bold}', '{/bold}{/red-fg}'],
  selected: ['{inverse}', '{/inverse}'],
  key: ['{cyan-fg}{bold}', '{/bold}{/cyan-fg}'],
  chart: ['{cyan-fg}', '{/cyan-fg}'],
};

/** NO_COLOR (no-color.org) forbids colour, not emphasis: bold and inverse still mark what matters. */
const MONOCHROME_MARKS: Marks = {
  title: ['{bold}', '{/bold}'],
  heading: ['{bold}{underline}', '{/underline}{/bold}'],
  dim: null,
  good: null,
  warn: ['{bold}', '{/bold}'],
  bad: ['{bold}', '{/bold}'],
  selected: ['{inverse}', '{/inverse}'],
  key: ['{bold}', '{/bold}'],
  chart: null,
};

/** blessed's own escaping ({ and } are its tag brackets), without importing blessed here. */
function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (bracket) => (bracket === '{' ? '{open}' : '{close}'));
}

export function tagPainter(colours: boolean, unicode: boolean): Painter {
  const marks = colours ? COLOUR_MARKS : MONOCHROME_MARKS;
  return {
    unicode,
    escape: escapeTags,
    paint: (text, role) => {
      const mark = marks[role];
      return mark && text !== '' ? `${mark[0]}${text}${mark[1]}` : text;
    },
  };
}

/** For frames printed as plain text (not a terminal, TERM=dumb). */
export function plainPainter(unicode: boolean): Painter {
  return { unicode, escape: (text) => text, paint: (text) => text };
}

/** Whether the locale is UTF-8 (the first of LC_ALL, LC_CTYPE, LANG that is set decides, as in C). */
export function localeIsUnicode(environment: NodeJS.ProcessEnv): boolean {
  const locale = environment['LC_ALL'] || environment['LC_CTYPE'] || environment['LANG'] || '';
  return /utf-?8/i.test(locale);
}

/** NO_COLOR set to anything non-empty, or a terminal that reports fewer than 8 colours. */
export function coloursWanted(environment: NodeJS.ProcessEnv, terminalColours: number): boolean {
  return !environment['NO_COLOR'] && terminalColours >= 8;
}
