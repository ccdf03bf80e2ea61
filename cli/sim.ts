import { EmbeddedBroker } from '../simulator/broker.js';
import { ProvinceEmulator } from '../simulator/province.js';
import { untilSignal } from './run.js';

/** `hcp sim broker`: an embedded MQTT broker, e.g. for `hcp run` against an emulated province. */
export async function runBrokerCommand(port: number): Promise<void> {
  const broker = await EmbeddedBroker.start({ port });
  console.log(`embedded MQTT broker listening at ${broker.url} (Ctrl-C to stop)`);
  await untilSignal();
  await broker.stop();
}

/** `hcp sim province`: the province emulator on a broker, printing what it accepts and rejects. */
export async function runProvinceCommand(url: string, prefix: string): Promise<void> {
  const province = await ProvinceEmulator.start({ url, prefix });
  console.log(`province emulator reading ${prefix}/+/records on ${url} (Ctrl-C to stop)`);
  province.on('record', (record, terminalId) => console.log(`accepted  ${terminalId}  ${record.kind}  ${record.id}`));
  province.on('duplicate', (id, terminalId) => console.log(`duplicate ${terminalId}  ${id}`));
  province.on('rejected', ({ id, terminalId, reason }) => console.log(`REJECTED  ${terminalId}  ${id}: ${reason}`));
  await untilSignal();
  await province.stop();
}
