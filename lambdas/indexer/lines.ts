/**
 * Splits a byte stream into numbered text lines without holding the whole object.
 *
 * Why not `readline`: it has no bound on a line's length, so one object without newlines would
 * be buffered whole. Here a line longer than `maxLineBytes` is reported as too long and skipped up
 * to its end, and the stream goes on. It is also faster than `readline`'s async iterator.
 */
import { StringDecoder } from 'string_decoder';

export type Line =
  | { readonly number: number; readonly text: string; readonly tooLong?: undefined }
  | { readonly number: number; readonly text: string; readonly tooLong: true };

/** 1 MiB: far above any aggregate row (an 8 KiB URL plus a few numbers). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/**
 * Yields every line of `source` (a Node stream or any async iterable of chunks) with its 1-based
 * number. `\r\n` endings are accepted. A line over the limit is yielded once, with `tooLong` and
 * its first 1 KiB as `text`, so the caller can report it.
 */
export async function* readLines(
  source: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<Line> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let number = 0;
  let skipping = false; // inside an over-long line, waiting for its end
  let skippedHead = '';

  const finish = (text: string): Line => {
    number++;
    return { number, text: text.endsWith('\r') ? text.slice(0, -1) : text };
  };

  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      if (skipping) {
        skipping = false;
        number++;
        yield { number, text: skippedHead, tooLong: true };
      } else {
        const line = pending === '' ? text.slice(start, newline) : pending + text.slice(start, newline);
        pending = '';
        yield finish(line);
      }
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) {
      if (skipping) continue;
      pending += text.slice(start);
      // Characters are at most 4 UTF-8 bytes; compare lengths first to avoid measuring each time.
      if (pending.length * 4 > maxLineBytes && Buffer.byteLength(pending, 'utf8') > maxLineBytes) {
        skipping = true;
        skippedHead = pending.slice(0, 1024);
        pending = '';
      }
    }
  }
  const rest = decoder.end();
  if (skipping) {
    number++;
    yield { number, text: skippedHead, tooLong: true };
  } else if (pending + rest !== '') {
    yield finish(pending + rest);
  }
}
