// Network namespaces kept by the server across dump and restore (`ip netns`: a bind mount under /run/netns).
import { stat } from 'node:fs/promises';
import { execa } from 'execa';

export interface KeptNetns {
  name: string;
  /** /run/netns/NAME: what newns joins, what the bridge's sockets are made in, what criu inherits on restore. */
  path: string;
  /** The namespace's inode: criu's key for it at dump (`--external net[INODE]:KEY`). */
  inode: number;
}

const namePattern = /^[a-z0-9][a-z0-9-]{0,47}$/;

export function netnsPath(name: string): string {
  if (!namePattern.test(name)) throw new TypeError(`not a network namespace name: ${JSON.stringify(name)}`);
  return `/run/netns/${name}`;
}

async function ip(args: string[]): Promise<void> {
  const result = await execa('ip', args, { reject: false, timeout: 10_000, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new Error(`ip ${args.join(' ')} failed (exit ${result.exitCode ?? result.signal}): ${String(result.stderr).trim()}`);
  }
}

/** A new network namespace with only `lo`, up (a fresh one has it down: nothing could listen on 127.0.0.1). */
export async function createNetns(name: string): Promise<KeptNetns> {
  const path = netnsPath(name);
  await ip(['netns', 'add', name]);
  try {
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    return { name, path, inode: (await stat(path)).ino };
  } catch (error) {
    await ip(['netns', 'delete', name]).catch(() => {});
    throw error;
  }
}

/** Forgets the namespace; it disappears once no process (and no socket of the server) is left in it. */
export async function deleteNetns(name: string): Promise<void> {
  await ip(['netns', 'delete', netnsPath(name).slice('/run/netns/'.length)]);
}
