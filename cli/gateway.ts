import { createLogger } from '../bridge/log.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { DatabaseUnavailable } from '../gateway/db/database.js';
import { SchemaNewerThanCode } from '../gateway/db/migrate.js';
import { Gateway } from '../gateway/gateway.js';
import { BrokerUnavailable } from '../gateway/mqtt/session.js';
import { untilSignal } from './run.js';

/**
 * `hcp gateway --config FILE`: one gateway instance until SIGTERM or SIGINT; SIGHUP re-reads
 * the terminal roster file. The batch in flight is committed and acknowledged before it exits.
 */
export async function runGatewayCommand(configPath: string): Promise<void> {
  const config = loadGatewayConfig(configPath);
  const logger = createLogger(config.log.level);
  const stopSignal = untilSignal();
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, { logger });
  } catch (err) {
    // What an operator fixes (the database, the broker, the gateway's version): one line, exit 1, no stack.
    if (err instanceof DatabaseUnavailable || err instanceof SchemaNewerThanCode || err instanceof BrokerUnavailable) {
      console.error(`hcp gateway: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const { broker, database } = gateway.status();
  logger.info({ instance: config.instance, broker: config.mqtt.url, subscriptions: broker.subscriptions, database: database.kind, admin: gateway.adminUrl }, 'gateway started');
  const onHangup = (): void => {
    gateway.reloadRoster().then(
      (summary) => logger.info({ summary }, 'gateway: roster file re-read'),
      (err: unknown) => logger.error({ err: (err as Error).message }, 'gateway: the roster file was not applied; the registry is unchanged'),
    );
  };
  process.on('SIGHUP', onHangup);
  const signal = await stopSignal;
  process.off('SIGHUP', onHangup);
  logger.info({ signal }, 'gateway stopping');
  await gateway.stop();
}
