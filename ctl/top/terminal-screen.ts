// The only place that touches blessed (0.1.81, unmaintained, loosely typed): a full-screen box that
// shows prepared lines, keys and resizes in, and a destroy that gives the terminal back. Run by appctl.

import blessed from 'blessed';

export interface ScreenOptions {
  /** Terminal title while it runs. */
  readonly title: string;
  /** Wide and combining characters measured as the terminal draws them (a UTF-8 locale). */
  readonly unicode: boolean;
}

export class TerminalScreen {
  readonly #screen: blessed.Widgets.Screen;
  readonly #box: blessed.Widgets.BoxElement;
  #destroyed = false;

  constructor(options: ScreenOptions) {
    this.#screen = blessed.screen({
      smartCSR: true,
      fullUnicode: options.unicode,
      // blessed prints its own warnings (terminfo quirks) on the screen it is drawing.
      warnings: false,
      autoPadding: false,
      title: options.title,
    });
    this.#box = blessed.box({
      parent: this.#screen,
      top: 0,
      left: 0,
      width: '100%',
      height: '100%',
      tags: true,
      // Lines are cut to the width by the renderer; wrapping here would shift every row below.
      wrap: false,
      scrollable: false,
    });
    // With UTF-8, draw rules and dots as UTF-8, not as the terminal's alternate charset (ACS): blessed
    // prefers ACS like ncurses does, and a pane captured as text (tmux capture-pane, a screenshot in
    // the docs) then shows "q" for "─". NCURSES_NO_UTF8_ACS=1 asks ncurses programs the same.
    if (options.unicode) (this.#screen.tput as unknown as { brokenACS: boolean }).brokenACS = true;
    // The cursor would blink over the table.
    this.#screen.program.hideCursor();
  }

  get width(): number {
    return Number(this.#screen.width);
  }

  get height(): number {
    return Number(this.#screen.height);
  }

  /** Colours the terminal has (terminfo), so NO_COLOR-like terminals get bold and inverse only. */
  get colours(): number {
    // terminfo's max_colors; blessed sets it on Tput at runtime, @types/blessed does not declare it.
    const tput = this.#screen.tput as unknown as { readonly colors?: number };
    return typeof tput.colors === 'number' ? tput.colors : 0;
  }

  /** Replaces the whole frame; blessed writes only the cells that changed. */
  show(lines: readonly string[]): void {
    if (this.#destroyed) return;
    this.#box.setContent(lines.join('\n'));
    this.#screen.render();
  }

  /** `key` as blessed names it: "up", "C-c", "+", "S-k". */
  onKey(handler: (key: string) => void): void {
    this.#screen.on('keypress', (character: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => {
      const name = key?.full ?? character;
      if (name) handler(name);
    });
  }

  onResize(handler: () => void): void {
    this.#screen.on('resize', handler);
  }

  /** Leaves the alternate screen, shows the cursor and restores the terminal's mode. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#screen.program.showCursor();
    this.#screen.destroy();
  }
}
