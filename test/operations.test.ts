// The desktops' operations on their failure paths, with stand-ins for criu, the launcher and the process table:
// no root, no Xvnc; what is checked is the bookkeeping (records, claims, events, cleanup), not the programs.
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import type { Config } from '../server/config';
import { CriuError } from '../server/criu/errors';
import type { CriuOptions } from '../server/criu/options';
import type { CriuResult } from '../server/criu/run';
import type { Collaborators } from '../server/desktops/collaborators';
import type { DesktopEvent } from '../server/desktops/events';
import { acquireLock } from '../server/desktops/lock';
import { Desktops } from '../server/desktops/registry';
import { FreezeframeError } from '../server/errors';
import type { LazyDaemon, LazyOutcome } from '../server/criu/lazyPages';

const dirs: string[] = [];
after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface World {
  desktops: Desktops;
  events: DesktopEvent[];
  /** What was cleaned up, in order: 'rules <port>', 'x <display>'. */
  cleaned: string[];
  /** The process table: live PIDs and their start times. */
  live: Map<number, string>;
  criuCalls: string[];
  criu: Partial<Record<'dump' | 'restore', (options: CriuOptions) => Promise<CriuResult>>>;
  ports: { waitFor?: () => Promise<void> };
  /** The lazy-pages daemon's stand-in, when a test has one. */
  lazy?: () => Promise<LazyDaemon>;
}

const criuFailure = (op: string, error: string) => new CriuError({ op, command: ['criu', op], exitCode: 1, errors: [error], logPath: '/log', hint: undefined });
const ok = (op: 'dump' | 'restore'): CriuResult => ({ op, command: ['criu', op], durationMs: 12, stdout: '', lastLine: 'finished successfully' });

async function world(): Promise<World> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-ops-'));
  dirs.push(stateDir);
  const config: Config = {
    rootDir: '/nonexistent', stateDir, criuPath: '/nonexistent/criu', newnsPath: '/nonexistent/newns', desktopScript: '/nonexistent/desktop.sh',
    desktopUser: 'nobody', displays: { min: 950, max: 951 }, criuLogLevel: 4, criuLazyLogLevel: 4, criuRunner: 'swrk', sharePages: true, keyDir: '/nonexistent/keys',
    contained: false, lazy: false, lazyMinBytes: 128 * 1024 * 1024, lazyInPlace: false, refuseFdsInFlight: false,
  };
  let nextPid = 40_000;
  const w = { events: [], cleaned: [], live: new Map(), criuCalls: [], criu: {}, ports: {} } as unknown as World;
  const deps: Collaborators = {
    criu: async (op, options, onSpawn) => {
      w.criuCalls.push(op);
      await onSpawn(1);
      const run = w.criu[op];
      if (!run) throw new Error(`no criu ${op} expected`);
      return run(options);
    },
    launch: async (spec) => {
      await writeFile(spec.logPath, '[x] desktop started\n');
      const pid = nextPid++;
      w.live.set(pid, '1');
      return pid;
    },
    processes: {
      identify: async (pid) => (w.live.has(pid) ? { pid, startTime: w.live.get(pid)! } : undefined),
      isAlive: async (id) => !!id && w.live.get(id.pid) === id.startTime,
      treePids: async (pid) => (w.live.has(pid) ? [pid] : []),
      treeIdentities: async (pid) => (w.live.has(pid) ? [{ pid, startTime: w.live.get(pid)! }] : []),
      waitForExit: async (procs) => procs.filter((p) => (typeof p === 'number' ? w.live.has(p) : w.live.get(p.pid) === p.startTime)),
      waitForExiting: async () => [],
      signal: (pid) => w.live.delete(pid),
      adoptRoot: () => {},
      isCriu: async () => false,
    },
    cleanup: {
      removeCriuRules: async (port) => w.cleaned.push(`rules ${port}`),
      removeXLeftovers: async (display) => w.cleaned.push(`x ${display}`),
    },
    ports: { isFree: async () => true, waitFor: async () => w.ports.waitFor?.() },
    waitForLogLine: async () => {},
    screen: { capture: async () => Promise.reject(new Error('no screen here')), writeThumbnail: async () => {} },
    trustImages: async () => {},
    lazyPages: async () => (w.lazy ? w.lazy() : Promise.reject(new Error('no lazy-pages here'))),
    premapFits: async () => false,
    saveLaunchMounts: async () => {},
    desktopUser: async (name) => ({ name, uid: process.getuid!(), gid: process.getgid!() }),
    prepareDesktopFiles: async (files) => {
      await mkdir(files.home, { recursive: true });
      await writeFile(files.passwordFile, 'x');
    },
    rooms: {
      prepare: async () => {},
      createNetns: async () => ({ inode: 1 }),
      deleteNetns: async () => {},
      netnsInode: async () => 1,
      copyHomeBase: async () => {},
      mountHome: async () => {},
      unmountHome: async () => {},
    },
    clock: { now: () => new Date().toISOString() },
  };
  w.desktops = new Desktops(config, deps);
  await w.desktops.init();
  w.desktops.on('event', (e) => w.events.push(structuredClone(e)));
  return w;
}

/** A dump as criu's: the tree it dumped ends, and its images are written. */
const dumpThatEndsTheTree = (w: World) => async (options: { imagesDir?: string }) => {
  w.live.clear();
  await writeFile(path.join(options.imagesDir!, 'inventory.img'), 'x');
  return ok('dump');
};
const exists = (file: string) => access(file).then(() => true, () => false);
const kinds = (w: World) => w.events.map((e) => `${e.type}${e.operation ? ` ${e.operation}` : ''} ${e.desktop.state}`);
function expectCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof FreezeframeError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe('operations, failure paths (no root)', () => {
  let w: World;
  beforeEach(async () => (w = await world()));

  test('a start whose Xvnc never listens: failed with its log named, tree killed, display released, said once', async () => {
    w.ports.waitFor = () => Promise.reject(new Error('5950 accepted no connection within 30000 ms'));
    await assert.rejects(w.desktops.start({ apps: [] }), expectCode('launch'));
    const [record] = await w.desktops.list();
    assert.equal(record.state, 'failed');
    assert.match(record.lastError!.message, /accepted no connection/);
    assert.equal(record.lastError!.logPath, w.desktops.paths.desktopLog(record.id));
    assert.equal(w.live.size, 0, 'its tree was killed');
    assert.equal(await exists(w.desktops.paths.displayClaim(record.display)), false, 'its display is free again');
    assert.deepEqual(w.cleaned, [`x ${record.display}`]);
    assert.deepEqual(kinds(w), ['failed start failed']);
  });

  test('a failed dump of a tree criu resumed: running, the error kept, no images, no DROP rule left', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    w.criu.dump = async () => Promise.reject(criuFailure('dump', 'Error (criu/sk-unix.c:1): boom'));
    await assert.rejects(w.desktops.checkpoint(desktop.id), expectCode('criu'));
    const record = await w.desktops.get(desktop.id);
    assert.equal(record.state, 'running');
    assert.deepEqual(record.lastError?.errors, ['Error (criu/sk-unix.c:1): boom']);
    const [checkpoint] = await w.desktops.checkpoints(desktop.id);
    assert.equal(checkpoint.state, 'failed');
    assert.equal(await exists(w.desktops.paths.checkpointImages(checkpoint.id)), false, 'partial images removed');
    assert.deepEqual(w.cleaned, [`rules ${desktop.vncPort}`]);
    assert.deepEqual(kinds(w), ['started running', 'checkpointing checkpointing', 'failed dump running']);
  });

  test('a dump that failed on what was in flight is tried again, and completes', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    let calls = 0;
    const transient = ['Error (criu/sk-inet.c:1): In-flight connection (l) for 0:0', 'Error (criu/seize.c:882): Zombies with threads are not supported'];
    w.criu.dump = async (options) => {
      if (++calls < 3) throw criuFailure('dump', transient[calls - 1]);
      return dumpThatEndsTheTree(w)(options);
    };
    const { checkpoint, desktop: after } = await w.desktops.checkpoint(desktop.id);
    assert.equal(calls, 3);
    assert.deepEqual(checkpoint.retried, transient, 'the reasons of the attempts tried again, on record');
    assert.equal(after.state, 'checkpointed');
    assert.equal(checkpoint.state, 'complete');
    assert.ok(checkpoint.imageBytes! > 0, 'the images are counted');
    // A thread caught exiting as criu seized it, likewise.
    const other = await w.desktops.start({ apps: [] });
    const thread = 'Error (criu/seize.c:939): Zombie thread not supported';
    calls = 0;
    w.criu.dump = async (options) => {
      if (++calls < 2) throw criuFailure('dump', thread);
      return dumpThatEndsTheTree(w)(options);
    };
    const second = await w.desktops.checkpoint(other.id);
    assert.equal(second.checkpoint.state, 'complete');
    assert.deepEqual(second.checkpoint.retried, [thread]);
  });

  test('a failed restore: back where it was, the attempt in the history, the images kept, leftovers removed', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    w.criu.dump = dumpThatEndsTheTree(w);
    const { checkpoint } = await w.desktops.checkpoint(desktop.id);
    w.cleaned.length = 0;
    w.events.length = 0;
    w.criu.restore = async () => Promise.reject(criuFailure('restore', "Error (criu/files-reg.c:1): File home/x.log has bad size 10 (expect 5)"));
    await assert.rejects(w.desktops.restore(checkpoint.id), expectCode('criu'));
    const record = await w.desktops.get(desktop.id);
    assert.equal(record.state, 'checkpointed');
    const after = await w.desktops.getCheckpoint(checkpoint.id);
    assert.deepEqual(after.restores.map((r) => [r.ok, path.basename(r.logPath), r.error?.hint !== undefined]), [[false, 'restore-1.log', false]]);
    assert.deepEqual(await readdir(w.desktops.paths.checkpointImages(checkpoint.id)), ['inventory.img']);
    assert.deepEqual(w.cleaned, [`x ${desktop.display}`, `rules ${desktop.vncPort}`, `x ${desktop.display}`]);
    assert.deepEqual(kinds(w), ['restoring restoring', 'failed restore checkpointed']);
  });

  test('a desktop found dead is marked failed by the first read, and said once', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    w.live.clear();
    await Promise.all([w.desktops.get(desktop.id), w.desktops.list(), w.desktops.get(desktop.id)]);
    assert.equal((await w.desktops.get(desktop.id)).state, 'failed');
    assert.deepEqual(kinds(w), ['started running', 'failed failed']);
  });

  test('while another process holds the lock, a read leaves the record alone', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    w.live.clear();
    const held = await acquireLock(w.desktops.paths.desktopLock(desktop.id), 'checkpoint', 'the desktop');
    try {
      assert.equal((await w.desktops.get(desktop.id)).state, 'running');
      await assert.rejects(w.desktops.stop(desktop.id), expectCode('busy'));
    } finally {
      await held.release();
    }
    assert.equal((await w.desktops.get(desktop.id)).state, 'failed');
  });

  test('a lazy restore: no dump before the daemon is done; a daemon that failed ends the tree, fails the desktop with its errors, keeps the images', async () => {
    const desktop = await w.desktops.start({ apps: [] });
    w.criu.dump = dumpThatEndsTheTree(w);
    const { checkpoint } = await w.desktops.checkpoint(desktop.id);
    w.criu.restore = async (options) => {
      assert.equal(options.lazyPages, true);
      assert.equal(options.workDir, path.join(w.desktops.paths.desktopDir(desktop.id), 'lazy'));
      w.live.set(41_000, '1');
      await writeFile(options.pidfile!, '41000');
      return ok('restore');
    };
    let finish!: (outcome: LazyOutcome) => void;
    w.lazy = async () => {
      w.live.set(50_000, '9');
      const done = new Promise<LazyOutcome>((resolve) => (finish = resolve));
      void done.then(() => w.live.delete(50_000));
      return { pid: 50_000, logPath: '/pages.log', done, kill: () => {} };
    };
    const restored = await w.desktops.restore(checkpoint.id, { lazy: true });
    assert.deepEqual(restored.desktop.fetching, { pid: 50_000, startTime: '9', logPath: w.desktops.paths.checkpointRestoreLog(checkpoint.id, 1).replace(/\.log$/, '-pages.log'), checkpoint: checkpoint.id });
    // The checkpoint waits for the daemon; it fails: no dump happens.
    w.criuCalls.length = 0;
    const asked = w.desktops.checkpoint(desktop.id);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(w.criuCalls, [], 'no dump while pages are still being sent');
    finish({ ok: false, exitCode: 1, signal: undefined, errors: ["Error (criu/uffd.c:1): uffd: 41000: Can't read pages"], copiedPages: 10, totalPages: 20, ms: 5 });
    await assert.rejects(asked, (e: unknown) => e instanceof FreezeframeError && e.code === 'criu' && /did not complete: .*Can't read pages/.test(e.message));
    assert.deepEqual(w.criuCalls, [], 'still no dump');
    const record = await w.desktops.get(desktop.id);
    assert.equal(record.state, 'failed');
    assert.equal(record.fetching, undefined);
    assert.deepEqual(record.lastError?.errors, ["Error (criu/uffd.c:1): uffd: 41000: Can't read pages"]);
    assert.equal(w.live.has(41_000), false, 'the tree with holes in its memory was ended');
    const after = await w.desktops.getCheckpoint(checkpoint.id);
    assert.deepEqual(after.restores.at(-1)!.lazy, { logPath: restored.desktop.fetching!.logPath, ms: 5, copiedPages: 10, totalPages: 20, ok: false, errors: ["Error (criu/uffd.c:1): uffd: 41000: Can't read pages"] });
    assert.deepEqual(await readdir(w.desktops.paths.checkpointImages(checkpoint.id)), ['inventory.img']);

    // A daemon that ends well: the record settles by itself, and the next checkpoint dumps.
    const again = await w.desktops.restore(checkpoint.id, { lazy: true });
    assert.ok(again.desktop.fetching);
    finish({ ok: true, exitCode: 0, signal: undefined, errors: [], copiedPages: 20, totalPages: 20, ms: 7 });
    for (let i = 0; i < 100 && (await w.desktops.get(desktop.id)).fetching; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await w.desktops.get(desktop.id)).fetching, undefined);
    assert.equal((await w.desktops.getCheckpoint(checkpoint.id)).restores.at(-1)!.lazy!.ok, true);
    const { desktop: dumped } = await w.desktops.checkpoint(desktop.id);
    assert.equal(dumped.state, 'checkpointed');
  });
});
