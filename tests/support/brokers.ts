import { EmbeddedBroker } from '../../simulator/broker.js';
import { MosquittoBroker } from '../../simulator/mosquitto.js';

/** What a conformance or fault suite needs of a broker, whichever it is. */
export interface TestBroker {
  url: string;
  port: number;
  /** Idempotent. */
  stop(): Promise<void>;
  /**
   * Stop (if running), then start again on the same port; resolves once it accepts connections.
   * Retained messages and sessions do not survive (neither broker persists anything).
   */
  restart(): Promise<void>;
}

export interface BrokerKind {
  name: 'embedded' | 'mosquitto';
  start(): Promise<TestBroker>;
}

/** Is this a CI run? (CI set to anything but '', 'false' or '0'.) */
export function onCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The embedded aedes broker, restartable on its port (restart = a new aedes on the same port). */
class RestartableEmbeddedBroker implements TestBroker {
  readonly url: string;
  readonly port: number;
  #broker: EmbeddedBroker | undefined;
  #ops: Promise<unknown> = Promise.resolve();

  private constructor(broker: EmbeddedBroker) {
    this.#broker = broker;
    this.url = broker.url;
    this.port = broker.port;
  }

  static async start(): Promise<RestartableEmbeddedBroker> {
    return new RestartableEmbeddedBroker(await EmbeddedBroker.start());
  }

  stop(): Promise<void> {
    return this.#serially(async () => {
      await this.#broker?.stop();
      this.#broker = undefined;
    });
  }

  restart(): Promise<void> {
    return this.#serially(async () => {
      await this.#broker?.stop();
      this.#broker = undefined;
      this.#broker = await listenAgain(this.port);
    });
  }

  #serially(op: () => Promise<void>): Promise<void> {
    const result = this.#ops.then(op);
    this.#ops = result.catch(() => undefined);
    return result;
  }
}

/** A new embedded broker on `port`, retrying while the port is still held (up to 5 s). */
async function listenAgain(port: number): Promise<EmbeddedBroker> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await EmbeddedBroker.start({ port });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const embedded: BrokerKind = { name: 'embedded', start: () => RestartableEmbeddedBroker.start() };

const mosquitto: BrokerKind = {
  name: 'mosquitto',
  start: async () => {
    if (!MosquittoBroker.available()) {
      const where = process.env.MOSQUITTO_BIN
        ? `MOSQUITTO_BIN=${process.env.MOSQUITTO_BIN} is not an executable`
        : 'no mosquitto in /usr/sbin, /usr/local/sbin or on PATH';
      throw new Error(
        `Mosquitto conformance cannot run: ${where}. CI must not skip conformance: install it with \`apt-get install mosquitto\`.`,
      );
    }
    return MosquittoBroker.start();
  },
};

function brokerMatrix(): BrokerKind[] {
  if (MosquittoBroker.available() || onCI()) return [embedded, mosquitto];
  // Once per process, however many suites import this.
  if (process.env.HCP_MOSQUITTO_SKIP_WARNED === undefined) {
    process.env.HCP_MOSQUITTO_SKIP_WARNED = '1';
    console.warn(
      'Mosquitto conformance skipped: mosquitto is not installed, so suites run against the embedded broker only. ' +
        'Install it with `apt-get install mosquitto` (or set MOSQUITTO_BIN).',
    );
  }
  return [embedded];
}

/** The brokers every conformance suite runs against: `describe.each(BROKERS)('… ($name)', ({ start }) => …)`. */
export const BROKERS: readonly BrokerKind[] = brokerMatrix();
