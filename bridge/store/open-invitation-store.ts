import type { Db } from './database.js';

/** The one open invitation, kept durably while it waits for its outcome. */
export class OpenInvitationStore<T extends { id: string }> {
  private readonly insert;
  private readonly remove;
  private readonly all;

  constructor(db: Db) {
    this.insert = db.prepare(`INSERT INTO open_invitation (id, body) VALUES (?, ?)`);
    this.remove = db.prepare(`DELETE FROM open_invitation WHERE id = ?`);
    this.all = db.prepare(`SELECT body FROM open_invitation`);
  }

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
