/**
 * What is wrong with a body JSON.parse refused, said without the body: V8 quotes the text it could
 * not read, and a sign-in or a password change carries a password.
 */
export function jsonSyntaxProblem(err: unknown): string {
  return (err as Error).message.replace(/, (?:\.\.\.)?".*$/s, '').slice(0, 200);
}
