/** Cuts `text` at the given points (each taken modulo its length + 1, in order): a stream as a pipe or a UART might deliver it. */
export function chunked(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
  const chunks: string[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(text.slice(from, p));
    from = p;
  }
  chunks.push(text.slice(from));
  return chunks;
}
