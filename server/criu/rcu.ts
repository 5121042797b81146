// The kernel's RCU grace periods, expedited or not (/sys/kernel/rcu_expedited): set by the engine at its start when
// FREEZEFRAME_RCU_EXPEDITED says so (1 or 0), else left as the host has it.
//
// Why: part of criu restore's own time is the kernel waiting for a normal RCU grace period (~10-16 ms each on these
// machines). The self-contained desktop's network unlock is one: criu deletes its nftables table in 0.1 ms, then
// closing its netlink socket (libnftables' nft_ctx_free) waits 11-16 ms for a grace period, measured by the same
// libnftables calls in a fresh namespace; with expedited grace periods it took 0.05 ms. (The criu built here waits
// no more for that one: it closes the socket at its exit, scripts/criu-patches/0003.) It is the whole machine's
// setting (expedited grace periods interrupt every CPU instead of waiting for them), so it is the operator's choice:
// measured in bench/results/resume-rcu.md and lazy-rcu.md (bench/README.md).
import { readFileSync, writeFileSync } from 'node:fs';

const file = '/sys/kernel/rcu_expedited';

/** '1' or '0' from FREEZEFRAME_RCU_EXPEDITED; undefined: leave the host's setting. Anything else is an error. */
export function rcuExpeditedSetting(env: NodeJS.ProcessEnv = process.env): '0' | '1' | undefined {
  const raw = env.FREEZEFRAME_RCU_EXPEDITED;
  if (raw === undefined || raw === '') return undefined;
  if (raw !== '0' && raw !== '1') throw new Error('FREEZEFRAME_RCU_EXPEDITED must be 1 (expedite RCU grace periods for criu) or 0');
  return raw;
}

/**
 * Applies the setting; returns what the kernel has afterwards (undefined where the file cannot be read: not Linux,
 * or no sysfs). A write refused (not root, a read-only sysfs) leaves the host as it was and is said in the result.
 */
export function applyRcuExpedited(env: NodeJS.ProcessEnv = process.env): { value?: string; error?: string } {
  const wanted = rcuExpeditedSetting(env);
  let error: string | undefined;
  if (wanted !== undefined) {
    try {
      if (readFileSync(file, 'utf8').trim() !== wanted) writeFileSync(file, wanted);
    } catch (cause) {
      error = `cannot set ${file} to ${wanted}: ${(cause as Error).message}`;
    }
  }
  try {
    return { value: readFileSync(file, 'utf8').trim(), error };
  } catch {
    return { error };
  }
}
