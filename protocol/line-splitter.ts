import { MAX_FRAME_LENGTH } from './frame.js';

export interface LineSink {
  /** One line, without its newline; empty lines are skipped. */
  line(text: string): void;
  /** A line longer than the limit was dropped (never buffered): `length` characters before its newline. */
  tooLong(length: number): void;
}

/**
 * Cuts a serial stream into lines: the one line reader of every side of the serial line (bridge,
 * simulator, terminal MCU). Linear in the input and bounded in memory: at most `maxLength`
 * characters are held, a longer line is only counted until its newline and then dropped, and the
 * reader resynchronises there. The default limit leaves room for a tolerated `\r` after the
 * longest frame; what is longer cannot be a frame (protocol/frame.ts).
 */
export function lineSplitter(sink: LineSink, maxLength = MAX_FRAME_LENGTH): (chunk: string) => void {
  let buffer = '';
  let length = 0;
  return (chunk) => {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      const end = newline < 0 ? chunk.length : newline;
      length += end - start;
      // Past the limit nothing more is kept: the cost of a runaway line is one count per chunk.
      buffer = length > maxLength ? '' : buffer + chunk.slice(start, end);
      if (newline < 0) return;
      if (length > maxLength) sink.tooLong(length);
      else if (length > 0) sink.line(buffer);
      buffer = '';
      length = 0;
      start = newline + 1;
    }
  };
}
