import type { Db } from './database.js';

/** The one open invitation, kept durably while it waits for its outcome. */
export class OpenInvitationStore<T extends { id: string }> {
  private readonly insert;
  private readonly remove;
  private readonly all;

  constructor(db: Db) {
    this.insert = db.prepare(`INSERT INTO open_invitation (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`);
    this.remove = db.prepare(`DELETE FROM open_invitation WHERE id = ?`);
    this.all = db.prepare(`SELECT body FROM open_invitation`);
  }

  /** Saves it, or saves it again as it is now (e.g. cancelled). */
  save(invitation: T): void {
    this.insert.run(invitation.id, JSON.stringify(invitation));
  }

  delete(id: string): void {
    this.remove.run(id);
  }

  load(): T[] {
    return (this.all.all() as { body: string }[]).map((row) => JSON.parse(row.body) as T);
  }
}
