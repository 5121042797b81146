// `freezeframe`: the same operations as the dashboard, for scripts and tests; JSON on stdout, exit 1 on failure.
import 'server-only';
import { parseArgs } from 'node:util';
import { createEngine } from './engine';
import { loadConfig } from './config';
import { publicKeyLine, trustKey } from './checkpoints/keys';
import { FreezeframeError } from './errors';
import { toErrorInfo } from './desktops/registry';
import { appPresets } from './desktops/apps';
import { checkpointView, desktopView } from './api/redact';

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
  const need = (what: string) => {
    if (!arg) throw new FreezeframeError('invalid', `${command} needs a ${what}\n${usage}`);
    return arg;
  };
  // The key commands need no engine (no desktop user, no state folder): they work before anything else is set up.
  if (command === 'key') {
    process.stdout.write((await publicKeyLine(loadConfig().keyDir)) + '\n');
    return undefined;
  }
  // Unquoted, the line arrives as two arguments (key, name): they are one line again.
  if (command === 'trust') return trustKey(loadConfig().keyDir, [need('key line'), ...positionals.slice(2)].join(' '));
  const { desktops } = await createEngine();
  switch (command) {
    case 'start': {
      const commands = values.command?.map((c) => c.trim().split(/\s+/));
      const d = await desktops.start({ geometry: values.geometry, apps: values.app, commands });
      return { id: d.id, display: d.display, vncPort: d.vncPort, pid: d.pid, state: d.state };
    }
    case 'checkpoint': {
      const { desktop, checkpoint } = await desktops.checkpoint(need('desktop id'), { leaveRunning: values['leave-running'] });
      return { checkpoint: checkpoint.id, desktop: desktop.id, dumpMs: checkpoint.dumpMs, imageBytes: checkpoint.imageBytes, state: desktop.state };
    }
    case 'restore': {
      const { desktop, checkpoint, restoreMs } = await desktops.restore(need('checkpoint id'), { stopRunning: values['stop-running'] });
      return { desktop: desktop.id, checkpoint: checkpoint.id, restoreMs, pid: desktop.pid, state: desktop.state };
    }
    case 'list': {
      const [all, checkpoints] = await Promise.all([desktops.list(), desktops.checkpoints()]);
      // As the API lists them: no VNC password in a list.
      return all.map((d) => ({ ...desktopView(d), checkpoints: checkpoints.filter((c) => c.desktop === d.id).map(checkpointView) }));
    }
    case 'inspect':
      return desktops.inspect(need('checkpoint id'));
    case 'export': {
      if (!values.output) throw new FreezeframeError('invalid', `export needs --output FILE\n${usage}`);
      return desktops.exportCheckpoint(need('checkpoint id'), values.output);
    }
    case 'import': {
      const { checkpoint, desktop } = await desktops.importCheckpoint(need('archive file'));
      return { checkpoint: checkpoint.id, desktop: desktop.id, state: desktop.state };
    }
    case 'delete':
      return desktops.deleteCheckpoint(need('checkpoint id'));
    case 'stop':
      return desktops.stop(need('desktop id'));
    default:
      throw new FreezeframeError('invalid', `unknown command "${command}"\n${usage}`);
  }
}

main(process.argv.slice(2)).then(
  (result) => {
    if (result !== undefined) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  },
  (error: unknown) => {
    process.stdout.write(JSON.stringify({ error: toErrorInfo(error) }, null, 2) + '\n');
    process.exitCode = 1;
  },
);
