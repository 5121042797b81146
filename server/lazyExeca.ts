// execa, loaded at its first use: importing it takes ~80 ms, and a `freezeframe list` runs no program at all
// (bench/cli.mts measures the CLI).
import type { execa as Execa } from 'execa';

let loaded: typeof Execa | undefined;

export async function loadExeca(): Promise<typeof Execa> {
  return (loaded ??= (await import('execa')).execa);
}
