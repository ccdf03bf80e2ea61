/** Counts by name, e.g. refused HTTP requests by error code, for status and telemetry. */
export class Tally {
  private readonly byName: Record<string, number> = {};

  count(name: string): void {
    this.byName[name] = (this.byName[name] ?? 0) + 1;
  }

  /** A copy: the caller may keep it. */
  counts(): Record<string, number> {
    return { ...this.byName };
  }
}
