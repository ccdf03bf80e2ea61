import type { Db } from './database.js';

/** Small durable key/value state that must survive a restart (e.g. who is signed in). */
export class Settings {
  private readonly read;
  private readonly write;
  private readonly remove;

  constructor(db: Db) {
    this.read = db.prepare(`SELECT value FROM settings WHERE key = ?`);
    this.write = db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    this.remove = db.prepare(`DELETE FROM settings WHERE key = ?`);
  }

  get(key: string): string | undefined {
    return (this.read.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string | null): void {
    if (value === null) this.remove.run(key);
    else this.write.run(key, value);
  }
}
