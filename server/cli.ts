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
  restore CHECKPOINT [--stop-running]      restore a checkpoint (--stop-running: stop its desktop first if it runs)
  inspect CHECKPOINT                       its process tree, command lines, files, sockets, memory
  export CHECKPOINT --output FILE          write it as one .tar.gz archive, signed with this installation's key
  import FILE                              import an archive made by export (here or on a machine set up alike),
                                           if signed by this installation or a trusted key
  key                                      print this installation's public key line (plain text, not JSON)
  trust 'ed25519:KEY NAME'                 trust archives signed by that key (a line \`key\` printed elsewhere)
  delete CHECKPOINT                        delete a checkpoint's images and record
  list                                     desktops and their checkpoints
  stop DESKTOP                             stop a desktop (its checkpoints stay)
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
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage + '\n');
    return undefined;
  }
  const known = ['start', 'checkpoint', 'restore', 'list', 'inspect', 'export', 'import', 'key', 'trust', 'delete', 'stop'];
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
      const { desktop, checkpoint, restoreMs } = unwrap(await operations.restoreCheckpoint(need('checkpoint id'), { stopRunning: values['stop-running'] }));
      return { desktop: desktop.id, checkpoint: checkpoint.id, restoreMs, pid: desktop.pid, state: desktop.state };
    }
    case 'list':
      return unwrap(await operations.listDesktopsWithCheckpoints()).desktops;
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
