import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import fc from 'fast-check';

/** One hostile HTTP request, for the API fuzz suites (the bridge's and the gateway's). */
export interface Junk {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Every byte a request line may carry (Node's client refuses the rest, as a browser would). */
export const pathChars = fc.constantFrom(...'/%[]@:?#&=+;,.-_~!$\'()*aZ09é'.split(''), '%2F', '%E4%B8%AD', '%E0%A4%A', '%ZZ', '%00', '..', '//');

/** A request printed short: very long paths and bodies would fill the report. */
export const short = (j: Junk): string =>
  `${j.method} ${j.path.length > 100 ? `${j.path.slice(0, 80)}…(${j.path.length})` : j.path} ${JSON.stringify(j.headers)} ${j.body === undefined ? '-' : `${j.body.length}B ${JSON.stringify(j.body.slice(0, 60))}`}`;

export const printedShort = (j: Junk): Junk => Object.assign(j, { [fc.toStringMethod]: () => short(j) });

/** Sends it as is, framed by its length as a browser does (an unframed body on GET would be read as a request of its own). */
export async function send(baseUrl: string, j: Junk): Promise<{ status: number; text: string }> {
  const length = j.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(j.body)) };
  const req = request(baseUrl, { method: j.method, path: j.path, headers: { ...j.headers, ...length } });
  req.on('error', () => undefined); // once() below rejects with it
  req.end(j.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, text };
}
