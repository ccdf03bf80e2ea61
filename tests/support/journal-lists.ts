/**
 * A fixed sequence of journal lists as the terminal core saves them (new reports at the end,
 * acknowledged ones dropped, at most 64), the same in Node and on Espruino's interpreter: the
 * power-loss test (tests/e2e/espruino-power-loss.test.ts) runs it on the interpreter, kills it,
 * and checks what the flash gives back against it. Plain arithmetic only (exact on both).
 */
export const JOURNAL_LIMIT = 64;

/** The lists one after another: each call gives the next step's list. */
export function journalLists(): () => string[] {
  let seed = 1;
  let id = 0;
  let list: string[] = [];
  return () => {
    seed = (seed * 75 + 74) % 65537;
    // Mostly a new report; a third of the time an ack, of the oldest or of one of the next two.
    if (seed % 3 === 0 && list.length > 0) {
      const acked = (seed >> 2) % Math.min(list.length, 3);
      list = list.filter((_, i) => i !== acked);
    } else {
      list = list.concat(report(id++, seed));
      if (list.length > JOURNAL_LIMIT) list = list.slice(1);
    }
    return list;
  };
}

/** A report's JSON as the core journals one; lengths vary as real ones do (ratings, strays, stuck buttons). */
function report(id: number, r: number): string {
  const inv = '3f1c2d4e-5a6b-4c7d-8e9f-' + ('00000000000' + id).slice(-12);
  if (r % 5 === 1) return '{"type":"stray","grade":' + (r % 5) + ',"ref":"0123456789abcdef-' + id + '"}';
  return '{"type":"rating","inv":"' + inv + '","grade":' + (r % 5) + ',"latencyMs":' + (r % 9000) + ',"reason":' + (r % 7 === 0 ? r % 3 : 'null') + '}';
}
