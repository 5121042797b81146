// `freezeframe`: the same operations as the dashboard (server/api/operations.ts), for scripts and tests; JSON on
// stdout, exit 1 with {error} on failure.
import 'server-only';
import { parseArgs } from 'node:util';
import { appPresets } from '../lib/presets';
import type { ApiError, Result } from '../lib/resultTypes';
import * as operations from './api/operations';
import { createEngine } from './engine';
import { setEngine } from './engineHandle';

const usage = `usage: freezeframe <command> [options]
  start [--geometry WxH] [--app NAME]... [--command 'PROGRAM ARG...']...
                                           start a desktop (apps: ${Object.keys(appPresets).join(', ')};
                                           a command is split at spaces into argv, no shell)
  checkpoint DESKTOP [--leave-running]     dump it with criu (the desktop stops, unless --leave-running)
  restore CHECKPOINT [--stop-running] [--lazy on|off|auto]
                                           restore a checkpoint (--stop-running: stop its desktop first if it runs;
                                           --lazy: its memory sent after it resumes, by criu lazy-pages; auto: by size)
  clone CHECKPOINT [--count N]             N new desktops (default 1) restored from the checkpoint at once
  inspect CHECKPOINT                       its process tree, command lines, files, sockets, memory
  export CHECKPOINT --output FILE          write it as one .tar.gz archive, signed with this installation's key
  import FILE                              import an archive made by export (here or on a machine set up alike),
                                           if signed by this installation or a trusted key
  key                                      print this installation's public key line (plain text, not JSON)
  trust 'ed25519:KEY NAME'                 trust archives signed by that key (a line \`key\` printed elsewhere)
  delete CHECKPOINT                        delete a checkpoint's images and record
  pin CHECKPOINT | unpin CHECKPOINT        a pinned checkpoint is never removed by the retention policy
  retention DESKTOP [--keep-last N] [--max-bytes SIZE]
                                           set which checkpoints it keeps (SIZE: bytes, or 500M, 2G; none: no
                                           such limit; no option: keep every checkpoint), applied now and after
                                           each checkpoint
  remove DESKTOP                           remove a stopped desktop with its checkpoints (frees disk and display)
  list [--fleet]                           desktops and their checkpoints; --fleet: every host's, from etcd
                                           (FREEZEFRAME_ETCD): {self?, fresh, hosts, desktops, checkpoints}
  stop DESKTOP                             stop a desktop (its checkpoints stay)
  move DESKTOP HOST [--method M]           move a running desktop to another host of the fleet (FREEZEFRAME_PEERS,
                                           FREEZEFRAME_FLEET_KEY_FILE); on failure it runs here again. M: copy
                                           (default), page-server, or lazy (it runs there at once, its memory
                                           fetched from here afterwards: docs/move.md)
Environment: FREEZEFRAME_STATE_DIR (default /var/lib/freezeframe), FREEZEFRAME_CRIU, FREEZEFRAME_DISPLAYS,
  FREEZEFRAME_DESKTOP_USER (default freezeframe-desktop: the desktops' programs run as it),
  FREEZEFRAME_KEY_DIR (default /etc/freezeframe: signing-key.pem and trusted-keys).`;

/** A failed operation, carried to the one place that prints it. */
class Failed extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/** What an operation returned, without its ok; a failure is thrown, to be printed. */
function unwrap<T extends object>(result: Result<T>): T {
  if (!result.ok) throw new Failed(result.error);
  const { ok: _, ...value } = result;
  return value as unknown as T;
}

/** "500M", "2G", "1048576" -> bytes (powers of 1024); NaN for anything else, which the schema refuses. */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) return NaN;
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' '));
}

/** An option's value: undefined when not given, null for "none" (no such limit). */
function limit(value: string | undefined, name: string, parse: (text: string) => number): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  const n = parse(value);
  if (!Number.isFinite(n)) throw new Failed({ code: 'invalid', message: `--${name} "${value}" is no number` });
  return n;
}

/** The fleet as etcd holds it now (the CLI is no member: it only reads). */
async function fleetList(): Promise<unknown> {
  const { loadConfig } = await import('./config');
  const fleet = loadConfig().fleet;
  if (!fleet) throw new Failed({ code: 'invalid', message: 'list --fleet reads etcd: set FREEZEFRAME_ETCD (http://address:2379)' });
  const [{ etcdClient }, { fleetView }] = await Promise.all([import('./fleet/etcd'), import('./fleet/view')]);
  const view = fleetView(etcdClient(fleet.etcd), fleet.hostId);
  await view.refresh();
  const snapshot = view.snapshot();
  if (!snapshot.fresh) throw new Failed({ code: 'internal', message: snapshot.error ?? 'etcd did not answer' });
  return snapshot;
}

async function main(argv: string[]): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      geometry: { type: 'string' },
      app: { type: 'string', multiple: true },
      command: { type: 'string', multiple: true },
      'leave-running': { type: 'boolean' },
      'stop-running': { type: 'boolean' },
      lazy: { type: 'string' },
      output: { type: 'string', short: 'o' },
      count: { type: 'string', short: 'n' },
      'keep-last': { type: 'string' },
      'max-bytes': { type: 'string' },
      fleet: { type: 'boolean' },
      method: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage + '\n');
    return undefined;
  }
  const known = ['clone', 'start', 'checkpoint', 'restore', 'list', 'inspect', 'export', 'import', 'key', 'trust', 'delete', 'stop', 'pin', 'unpin', 'retention', 'remove', 'move'];
  if (!known.includes(command)) throw new Failed({ code: 'invalid', message: `unknown command "${command}"\n${usage}` });
  const need = (what: string) => {
    if (!arg) throw new Failed({ code: 'invalid', message: `${command} needs a ${what}\n${usage}` });
    return arg;
  };
  // The key commands need no engine (no desktop user, no state folder): they work before anything else is set up.
  if (command === 'key') {
    process.stdout.write(unwrap(await operations.signingKeyLine()).line + '\n');
    return undefined;
  }
  // Unquoted, the line arrives as two arguments (key, name): they are one line again.
  if (command === 'trust') return unwrap(await operations.trustSigningKey([need('key line'), ...positionals.slice(2)].join(' ')));
  setEngine(await createEngine());
  switch (command) {
    case 'start': {
      const commands = values.command?.map((c) => c.trim().split(/\s+/));
      const { desktop: d } = unwrap(await operations.startDesktop({ geometry: values.geometry, apps: values.app, commands }));
      return { id: d.id, display: d.display, vncPort: d.vncPort, pid: d.pid, state: d.state };
    }
    case 'checkpoint': {
      const { desktop, checkpoint } = unwrap(await operations.checkpointDesktop(need('desktop id'), { leaveRunning: values['leave-running'] }));
      return { checkpoint: checkpoint.id, desktop: desktop.id, dumpMs: checkpoint.dumpMs, imageBytes: checkpoint.imageBytes, state: desktop.state };
    }
    case 'restore': {
      const lazy = values.lazy === undefined ? undefined : ({ on: true, off: false, auto: 'auto' } as const)[values.lazy as 'on' | 'off' | 'auto'];
      if (values.lazy !== undefined && lazy === undefined) throw new Failed({ code: 'invalid', message: `--lazy takes on, off or auto, not "${values.lazy}"` });
      const { desktop, checkpoint, restoreMs } = unwrap(await operations.restoreCheckpoint(need('checkpoint id'), { stopRunning: values['stop-running'], lazy }));
      return { desktop: desktop.id, checkpoint: checkpoint.id, restoreMs, pid: desktop.pid, state: desktop.state };
    }
    case 'clone': {
      const count = values.count === undefined ? undefined : Number(values.count);
      const cloned = unwrap(await operations.cloneCheckpoint(need('checkpoint id'), { count }));
      return { checkpoint: cloned.checkpoint, desktops: cloned.desktops.map((d) => ({ id: d.id, pid: d.pid, state: d.state })), failed: cloned.failed, ms: cloned.ms };
    }
    case 'list':
      if (values.fleet) return fleetList();
      return unwrap(await operations.listDesktopsWithCheckpoints()).desktops;
    case 'move': {
      const { moveDesktop } = await import('./api/fleetOperations');
      // In an etcd fleet, this process asks etcd once for the hosts (the server keeps its own view going).
      const fleet = (await import('./config')).loadConfig().fleet;
      if (fleet) {
        const [{ etcdClient }, { fleetView }, { setPeers }] = await Promise.all([import('./fleet/etcd'), import('./fleet/view'), import('./fleet/peersHandle')]);
        const view = fleetView(etcdClient(fleet.etcd), fleet.hostId);
        await view.refresh();
        if (!view.fresh()) throw new Failed({ code: 'internal', message: `etcd did not answer: the fleet's hosts are unknown (${view.snapshot().error ?? 'no answer'})` });
        setPeers(view);
      }
      const host = positionals[2];
      if (!host) throw new Failed({ code: 'invalid', message: `move needs a desktop id and a host\n${usage}` });
      return unwrap(await moveDesktop(need('desktop id'), { host, method: values.method }));
    }
    case 'inspect':
      return unwrap(await operations.inspectCheckpoint(need('checkpoint id')));
    case 'export': {
      const id = need('checkpoint id');
      if (!values.output) throw new Failed({ code: 'invalid', message: `export needs --output FILE\n${usage}` });
      return unwrap(await operations.exportCheckpoint(id, values.output));
    }
    case 'import': {
      const { checkpoint, desktop } = unwrap(await operations.importArchive(need('archive file')));
      return { checkpoint: checkpoint.id, desktop: desktop.id, state: desktop.state };
    }
    case 'delete':
      return unwrap(await operations.deleteCheckpoint(need('checkpoint id')));
    case 'stop':
      return unwrap(await operations.stopDesktop(need('desktop id'))).desktop;
    case 'pin':
    case 'unpin': {
      const { checkpoint } = unwrap(await operations.pinCheckpoint(need('checkpoint id'), { pinned: command === 'pin' }));
      return { checkpoint: checkpoint.id, pinned: !!checkpoint.pinned };
    }
    case 'retention': {
      const id = need('desktop id');
      const { desktop, removed, bytesFreed } = unwrap(await operations.setRetention(id, {
        keepLast: limit(values['keep-last'], 'keep-last', Number), maxBytes: limit(values['max-bytes'], 'max-bytes', parseSize),
      }));
      return { desktop: desktop.id, retention: desktop.retention ?? {}, removed, bytesFreed };
    }
    case 'remove':
      return unwrap(await operations.removeDesktop(need('desktop id')));
  }
}

main(process.argv.slice(2)).then(
  (result) => {
    if (result !== undefined) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  },
  (error: unknown) => {
    const described: ApiError = error instanceof Failed ? error.error : { code: 'internal', message: error instanceof Error ? error.message : String(error) };
    process.stdout.write(JSON.stringify({ error: described }, null, 2) + '\n');
    process.exitCode = 1;
  },
);
