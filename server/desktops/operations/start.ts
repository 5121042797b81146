// Starting a desktop: a display claimed, its files prepared, its tree launched, running once every app is.
import { mkdir } from 'node:fs/promises';
import { toErrorInfo } from '../../errorInfo';
import { FreezeframeError } from '../../errors';
import { newVncPassword, vncPasswordFile } from '../../vnc/vncAuth';
import { commandLimits, criuNeeds, customApp, defaultApps, parseGeometry, resolveApps, type AppPreset } from '../../../lib/presets';
import { LaunchError } from '../launcher';
import type { DesktopRecord } from '../records';
import { newId } from '../../../lib/ids';
import { desktopFiles, type OperationContext } from './context';
import { killTree } from './halt';
import { roomOf } from '../rooms';
import { inside } from '../../sandbox/layout';

export interface StartOptions {
  geometry?: string;
  /** Preset names (lib/presets.ts). */
  apps?: string[];
  /** Commands of the user's own, as argv arrays. */
  commands?: string[][];
}

function resolve(options: StartOptions): { geometry: string; apps: AppPreset[] } {
  const geometry = options.geometry ?? '1024x768';
  try {
    parseGeometry(geometry);
    if ((options.commands?.length ?? 0) > commandLimits.maxCommands) throw new RangeError(`at most ${commandLimits.maxCommands} commands`);
    const apps = [...resolveApps(options.apps ?? (options.commands?.length ? [] : defaultApps)), ...(options.commands ?? []).map(customApp)];
    return { geometry, apps };
  } catch (error) {
    throw new FreezeframeError('invalid', (error as Error).message);
  }
}

export async function startDesktop(ctx: OperationContext, options: StartOptions = {}): Promise<DesktopRecord> {
  const { paths, store, deps } = ctx;
  const { geometry, apps } = resolve(options);
  const id = newId('d');
  const contained = ctx.config.contained;
  const room = roomOf(paths, id);
  await mkdir(paths.desktopDir(id), { recursive: true, mode: contained ? 0o700 : 0o711 });
  return ctx.locks.run(id, 'start', async () => {
    // A contained desktop runs as a uid of its own (released when it is removed): desktops cannot signal or read
    // each other; on the host's display, as the one desktop user.
    const { uid, gid } = contained ? await ctx.uids.allocate(id) : ctx.user();
    // A contained desktop has display :1 in its own /tmp and network namespace: nothing of the host's to claim.
    const display = contained ? inside.display : await ctx.displays.allocate(id);
    const startedAt = deps.clock.now();
    const t0 = performance.now();
    const vncPassword = newVncPassword();
    // A second, view-only password: the audience link's viewers watch with it, and Xvnc ignores their input.
    const vncViewPassword = newVncPassword();
    const password = vncPasswordFile(vncPassword, vncViewPassword);
    const logPath = contained ? room.log : paths.desktopLog(id);
    const record: DesktopRecord = {
      id, ...(contained ? { kind: 'contained' as const } : {}), display, vncPort: 5900 + display, geometry,
      apps: apps.map((a) => (a.name === 'custom' ? a.label : a.name)), vncPassword, vncViewPassword, uid, gid,
      ...(contained ? { ownUser: true } : {}),
      // What its presets need of criu (Chromium: ghostLimit), passed to every dump of it.
      criu: criuNeeds(apps),
      state: 'starting', createdAt: startedAt, updatedAt: startedAt,
      lastOperation: { kind: 'start', startedAt },
    };
    if (contained) {
      // No record yet to release the uid with on removal: released here if the room cannot be made.
      await Promise.all([deps.rooms.prepare(room, password, { uid, gid }, { ownUser: true }), deps.rooms.createNetns(room.netns)])
        .catch(async (error: unknown) => {
          await ctx.uids.release(uid, id);
          throw error;
        });
    } else {
      await deps.prepareDesktopFiles(desktopFiles(paths, id), password, { uid, gid });
    }
    await store.save(record);
    try {
      const pid = await deps.launch({
        display, geometry, apps, logPath, homeDir: paths.desktopHome(id),
        passwordFile: contained ? room.passwordFile : paths.desktopPasswordFile(id),
        // The state folder holds the other desktops' overlay homes: their mounts must not be in this tree.
        ...(contained ? {
          room: {
            netnsPath: room.netnsPath, runDir: room.run, hide: [paths.stateDir],
            own: { ids: { uid, gid }, passwdFile: room.passwdFile, groupFile: room.groupFile },
          },
        } : {}),
      });
      const identity = await deps.processes.identify(pid);
      if (!identity) throw new LaunchError(`the desktop exited at once; see ${logPath}`);
      deps.processes.adoptRoot(identity);
      Object.assign(record, { pid, pidStartTime: identity.startTime });
      // A contained desktop's host mounts (bound again by path at restore) may be named while the host has
      // unmounted one since, like any desktop's. A tree that dies right away has no mount table to read (EINVAL on /proc/PID/mountinfo): that is the desktop
      // exiting at once, which its log explains, not a failure of this step.
      await deps.saveLaunchMounts(pid, paths.desktopLaunchMounts(id)).catch(async (error: unknown) => {
        if (!(await deps.processes.isAlive(identity))) throw new LaunchError(`the desktop exited at once; see ${logPath}`);
        throw error;
      });
      await store.save(record);
      const stillWorthWaiting = () => deps.processes.isAlive(identity);
      // Inside its namespace the port cannot be probed from here; desktop.sh logs the line below only once Xvnc
      // said (-displayfd) that it accepts clients.
      if (!contained) await deps.ports.waitFor(record.vncPort, { timeoutMs: 30_000, stillWorthWaiting });
      // Running means every app has been launched, not just Xvnc listening (desktop.sh logs this line).
      await deps.waitForLogLine(logPath, '] desktop started', { timeoutMs: 30_000, stillWorthWaiting });
      await store.setState(record, 'running', { lastOperation: { ...record.lastOperation!, ms: performance.now() - t0, ok: true } });
      ctx.emit({ type: 'started', desktop: record });
      return record;
    } catch (error) {
      const info = toErrorInfo(error);
      if (record.pid) await killTree(ctx, record);
      if (contained) {
        await deps.rooms.deleteNetns(room.netns).catch(() => {});
      } else {
        await deps.cleanup.removeXLeftovers(display);
        await ctx.displays.release(display, id);
      }
      await store.setState(record, 'failed', { lastError: { ...info, logPath }, pid: undefined, pidStartTime: undefined, lastOperation: { ...record.lastOperation!, ok: false } });
      ctx.emit({ type: 'failed', desktop: record, operation: 'start', error: info });
      throw new FreezeframeError('launch', `desktop ${id} did not start: ${info.message}`, { desktop: id }, { cause: error });
    }
  });
}
