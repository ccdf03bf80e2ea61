import { formatResult } from '../bridge/diagnose/check.js';
import { runDoctor } from '../bridge/diagnose/doctor.js';

/** `hcp doctor --config FILE`: prints one line per check; exit code 1 if any failed. */
export async function doctorCommand({ config, timeoutSeconds }: { config: string; timeoutSeconds: number }): Promise<void> {
  console.log(`hcp doctor: checking ${config} (waiting up to ${timeoutSeconds} s for the terminal and the broker)`);
  const results = await runDoctor(config, timeoutSeconds * 1000);
  for (const r of results) console.log(formatResult(r));
  const failed = results.filter((r) => r.level === 'fail').length;
  const warned = results.filter((r) => r.level === 'warn').length;
  console.log(failed ? `${failed} problem(s), ${warned} warning(s)` : warned ? `no problems, ${warned} warning(s)` : 'all checks passed');
  process.exitCode = failed ? 1 : 0;
}
