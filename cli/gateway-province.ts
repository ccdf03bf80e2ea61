import { KeyFileExists, writeProvinceKeyFile } from '../gateway/province/keygen.js';

/** `hcp gateway province keygen --out <file>`: the SM2 key our envelopes are signed with; prints the public key for the province (the profile's sm2.publicKey). */
export function provinceKeygenCommand(options: { out: string }, print: (text: string) => void = console.log, printError: (text: string) => void = console.error): void {
  try {
    const { publicKey } = writeProvinceKeyFile(options.out);
    print(`SM2 private key written to ${options.out} (mode 600; keep it there, never in the profile or in git)`);
    print(`public key, for the province and for the profile's sm2.publicKey:\n${publicKey}`);
  } catch (err) {
    const why = err instanceof KeyFileExists ? err.message : `cannot write ${options.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    printError(`hcp gateway province keygen: ${why}`);
    process.exitCode = 1;
  }
}
