import { createLogger } from '../bridge/log.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { Gateway } from '../gateway/gateway.js';
import { untilSignal } from './run.js';

/**
 * `hcp gateway --config FILE`: one gateway instance until SIGTERM or SIGINT; SIGHUP re-reads
 * the terminal roster file. The batch in flight is committed and acknowledged before it exits.
 */
export async function runGatewayCommand(configPath: string): Promise<void> {
  const config = loadGatewayConfig(configPath);
  const logger = createLogger(config.log.level);
  const stopSignal = untilSignal();
  const gateway = await Gateway.start(config, { logger });
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
