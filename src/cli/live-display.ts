/**
 * A block of text shown again and again (`top`, `up`): on a terminal each frame replaces the
 * previous one in place (cursor up, clear to the end of the screen; lines cut to the
 * terminal width so the line count stays right); elsewhere frames are appended, separated
 * by a blank line, so logs keep every one.
 *
 * @example
 * ```ts
 * const display = new LiveDisplay(ctx.stdout);
 * display.show(renderRates(rates));   // redrawn every second
 * ```
 */
import type { CliWriter } from './cli-context.ts';

/** Shows frames of text in place (terminal) or one after another (pipe, file). */
export class LiveDisplay {
  private shownLines = 0;
  private frames = 0;

  constructor(
    private readonly out: CliWriter,
    /** Redraw in place (default: when `out` is a terminal). */
    private readonly inPlace: boolean = out.isTTY === true,
  ) {}

  /** Shows `text` (one frame, no trailing newline needed). */
  show(text: string): void {
    let lines = text.replace(/\n+$/, '').split('\n');
    if (this.inPlace) {
      const width = this.out.columns;
      if (width !== undefined && width > 0) lines = lines.map((l) => (l.length > width ? l.slice(0, width) : l));
      const clear = this.shownLines > 0 ? `\x1b[${this.shownLines}F\x1b[J` : '';
      this.out.write(`${clear}${lines.join('\n')}\n`);
      this.shownLines = lines.length;
    } else {
      this.out.write(`${this.frames > 0 ? '\n' : ''}${lines.join('\n')}\n`);
    }
    this.frames++;
  }
}
