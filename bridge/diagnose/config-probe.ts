import { ConfigError, loadConfigFile, type BridgeConfig } from '../config.js';
import { errorText, fail, ok, type CheckResult } from './check.js';

export function checkConfig(path: string, load: (path: string) => BridgeConfig = loadConfigFile): { result: CheckResult; config?: BridgeConfig } {
  try {
    const config = load(path);
    return { result: ok('config', `${path} is valid (terminal ${config.terminal.id}, window ${config.terminal.windowNo})`), config };
  } catch (err) {
    if (err instanceof ConfigError) {
      const headline = err.message.split('\n')[0] ?? err.message;
      return {
        result: fail('config', headline, [
          ...err.problems,
          'compare with docs/bridge.example.yaml; every field is explained there',
        ]),
      };
    }
    return { result: fail('config', `cannot load ${path}: ${errorText(err)}`) };
  }
}
