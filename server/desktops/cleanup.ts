// Removes what a failed or interrupted operation leaves behind for ONE desktop: never another desktop's state.
import 'server-only';
import { unlink } from 'node:fs/promises';
import { loadExeca } from '../lazyExeca';

/** Xvnc's lock and socket of display N, which a failed restore (or a killed Xvnc) leaves in /tmp. */
export async function removeXLeftovers(display: number): Promise<string[]> {
  const removed: string[] = [];
  for (const file of [`/tmp/.X${display}-lock`, `/tmp/.X11-unix/X${display}`]) {
    try {
      await unlink(file);
      removed.push(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}

// CRIU's network lock: while a tree with TCP connections is dumped and frozen, each connection gets a DROP rule
// per direction, excepting packets with CRIU's mark 0xc114 (SOCCR_MARK), e.g.
//   -A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 38380 --dport 5907 -j DROP
// A successful restore removes them; a failed restore and --tcp-close leave them behind.
const criuRule = /^-A (INPUT|OUTPUT) .*-m mark ! --mark 0xc114 .*--sport (\d+) --dport (\d+) -j DROP$/;

/** The iptables rule specs (as `iptables -S` prints them) that CRIU left for connections of this port. */
export function criuRulesFor(port: number, iptablesS: string): string[] {
  return iptablesS.split('\n').filter((line) => {
    const m = criuRule.exec(line.trim());
    return !!m && (Number(m[2]) === port || Number(m[3]) === port);
  });
}

export async function listCriuRules(port: number): Promise<string[]> {
  const execa = await loadExeca();
  const { stdout } = await execa('iptables', ['-w', '-t', 'filter', '-S'], { timeout: 10_000 });
  return criuRulesFor(port, stdout);
}

export async function removeCriuRules(port: number): Promise<string[]> {
  const execa = await loadExeca();
  const rules = await listCriuRules(port);
  for (const rule of rules) {
    // "-A CHAIN spec" -> "-D CHAIN spec": the same words, so no shell string is ever built.
    const words = rule.trim().split(/\s+/);
    await execa('iptables', ['-w', '-t', 'filter', '-D', ...words.slice(1)], { timeout: 10_000 });
  }
  return rules;
}
