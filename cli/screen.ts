import { ConfigError, loadConfigFile } from '../bridge/config.js';
import { PAIRING_CODE_MS, pairingsIn } from '../bridge/screen/screen-pairing.js';
import { openDatabase } from '../bridge/store/database.js';

/*
 * `hcp screen pair|list|revoke --config FILE`: the tablets that may rate on this window's customer
 * screen (docs/customer-screen.md). Works beside the running service: the pairings live in its
 * database. Run it as the service's user (sudo -u hcp), so that the database stays its own.
 */

function pairings(configFile: string) {
  const config = loadConfigFile(configFile);
  if (!config.screen) throw new ConfigError(`${configFile} has no screen section: the customer screen is not served, so there is nothing to pair`, []);
  const db = openDatabase(config.database.path);
  return { config: config.screen, db, pairing: pairingsIn(db) };
}

/** Shows a one-time code for a tablet; the code is printed here only, never logged. */
export function screenPairCommand(options: { config: string }): void {
  const { config, db, pairing } = pairings(options.config);
  try {
    const { code, expiresAt } = pairing.offer();
    console.log(`Pairing code: ${code}`);
    console.log(`Valid for ${PAIRING_CODE_MS / 60_000} minutes (until ${expiresAt.toLocaleTimeString()}), once.`);
    console.log(`On the tablet, open http://<this Pi's address>:${config.port}/ and enter the code.`);
  } finally {
    db.close();
  }
}

export function screenListCommand(options: { config: string }): void {
  const { db, pairing } = pairings(options.config);
  try {
    const screens = pairing.screens();
    if (screens.length === 0) console.log('No tablet is paired (the Pi’s own screen needs no pairing).');
    for (const screen of screens) console.log(`${screen.id}  paired ${screen.pairedAt}`);
  } finally {
    db.close();
  }
}

export function screenRevokeCommand(id: string, options: { config: string }): void {
  const { db, pairing } = pairings(options.config);
  try {
    const revoked = pairing.revoke(id);
    if (revoked === 0) {
      console.error(`hcp screen revoke: no paired tablet ${id} (hcp screen list shows them; "all" revokes every one)`);
      process.exitCode = 2;
      return;
    }
    console.log(`${revoked} tablet${revoked === 1 ? '' : 's'} unpaired: ${revoked === 1 ? 'its' : 'their'} screen asks for a code again.`);
  } finally {
    db.close();
  }
}
