// Apps beyond the defaults: a command of the user's own, Firefox ESR and Chromium set up so that criu can dump them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { appPresets } from '../lib/presets';
import { treePids } from '../server/desktops/processes';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { xCommand, type XDesktop } from './support/xDisplay';
import { inside } from '../server/sandbox/layout';

const comms = async (pid: number) =>
  Promise.all((await treePids(pid)).map((p) => readFile(`/proc/${p}/comm`, 'utf8').then((c) => c.trim(), () => '')));

/** The names of the desktop's top-level windows, as the X server knows them. */
async function windowNames(desktop: XDesktop): Promise<string> {
  const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
  const { stdout } = await promisify(execFile)(program, args, { timeout: 10_000 });
  return stdout;
}

/** Whether a process of the tree holds a file deleted while open whose path matches (a "ghost" to criu). */
async function holdsDeleted(root: number, name: RegExp): Promise<boolean> {
  for (const pid of await treePids(root)) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) if (name.test(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) return true;
  }
  return false;
}

describe('apps', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('20-29')));
  after(async () => dispose());

  test('a command of the user\'s own runs as argv, and survives a checkpoint', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', commands: [['xeyes', '-geometry', '150x100+10+10']] });
    assert.deepEqual(desktop.apps, ['xeyes -geometry 150x100+10+10']);
    await eventually(async () => assert.ok((await comms(desktop.pid!)).includes('xeyes'), 'xeyes runs'));
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const restored = await desktops.restore(checkpoint.id);
    assert.ok((await comms(restored.desktop.pid!)).includes('xeyes'), 'xeyes is back');
    for (const bad of [[], ['xeyes; reboot'], ['-rf'], ['xeyes', 'a\nb'], ['x'.repeat(2000)]]) {
      await assert.rejects(desktops.start({ commands: [bad] }), (e: unknown) => e instanceof FreezeframeError && e.code === 'invalid', JSON.stringify(bad));
    }
  });

  test('Firefox ESR: checkpoint and restore', { timeout: 180_000 }, async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '1024x768', apps: ['firefox'] });
    // Firefox is dumpable once its window is up (its start spawns and connects a lot).
    await eventually(async () => assert.match(await windowNames(desktop), /Mozilla Firefox/), 60_000);
    const before = (await comms(desktop.pid!)).filter((c) => /firefox|Web Content|Isolated|Privileged|RDD|Socket|Utility/i.test(c));
    assert.ok(before.includes('firefox-esr') && before.length >= 2, `Firefox and its child processes: ${before}`);
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    assert.ok(checkpoint.imageBytes! > 100_000_000, `Firefox's images: ${checkpoint.imageBytes}`);
    // Firefox starts and ends content processes as it likes: what counts is what the images hold.
    const dumped = (await desktops.inspect(checkpoint.id)).processes.map((p) => p.comm).filter((c) => before.includes(c));
    assert.ok(dumped.includes('firefox-esr'), `the images hold Firefox: ${dumped}`);
    const restored = await desktops.restore(checkpoint.id);
    console.log(`Firefox: ${before.length} processes, dump ${checkpoint.dumpMs?.toFixed(0)} ms, ${(checkpoint.imageBytes! / 1e6).toFixed(0)} MB, restore ${restored.restoreMs.toFixed(0)} ms`);
    const back = await comms(restored.desktop.pid!);
    assert.ok(dumped.every((c) => back.includes(c)), `every Firefox process is back: ${dumped} in ${back}`);
    assert.match(await windowNames(desktop), /Mozilla Firefox/);
  });

  test("Chromium: its preset's ghost limit is what a dump needs; without it, criu's refusal comes with a hint naming --ghost-limit", { timeout: 240_000 }, async () => {
    const { desktops, config } = engine;
    const [wrapper, page] = appPresets.chromium.argv.map((a) => a.replace('{root}', config.contained ? inside.app : config.rootDir));
    // (A contained desktop sees Freezeframe's folder at inside.app: a clone under /tmp is covered by its own /tmp.)
    // Up: its window shows, and it holds BrowserMetrics-*.pma (4 MiB) deleted, which it does 2-3 s after its start.
    const up = async ({ id, display, pid }: { id: string; display: number; pid?: number }) => {
      await eventually(async () => assert.match(await windowNames({ id, display }), /"Freezeframe counter"/), 90_000);
      await eventually(async () => assert.ok(await holdsDeleted(pid!, /BrowserMetrics-.*\.pma \(deleted\)$/), 'BrowserMetrics deleted and open'), 30_000);
    };
    // The same wrapper and page as a command of the user's own: no preset, so nothing raises criu's 1 MiB default.
    const bare = await desktops.start({ geometry: '1024x768', commands: [[wrapper, page]] });
    assert.equal(bare.criu, undefined);
    await up(bare);
    await assert.rejects(desktops.checkpoint(bare.id), (e: unknown) => {
      const error = (e as FreezeframeError).details?.error as { errors?: string[]; hint?: string } | undefined;
      assert.ok(error?.errors?.some((line) => /Can't dump ghost file .*BrowserMetrics.* increase limit/.test(line)), JSON.stringify(error?.errors));
      assert.match(error?.hint ?? '', /--ghost-limit/);
      return true;
    });
    assert.equal((await desktops.get(bare.id)).state, 'running', 'a refused dump leaves it running');
    await desktops.stop(bare.id);

    const desktop = await desktops.start({ geometry: '1024x768', apps: ['chromium'] });
    assert.deepEqual(desktop.criu, appPresets.chromium.criu);
    await up(desktop);
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    assert.ok(checkpoint.command.join(' ').includes(`--ghost-limit ${appPresets.chromium.criu!.ghostLimit}`), checkpoint.command.join(' '));
    const before = (await desktops.inspect(checkpoint.id)).processes.filter((p) => p.comm === 'chromium').length;
    // Through the trust check: the ghost file's image is read, its 4 MiB of contents are not entries.
    const restored = await desktops.restore(checkpoint.id);
    const back = (await comms(restored.desktop.pid!)).filter((c) => c === 'chromium').length;
    console.log(`Chromium: ${before} processes, dump ${checkpoint.dumpMs?.toFixed(0)} ms, ${(checkpoint.imageBytes! / 1e6).toFixed(0)} MB, restore ${restored.restoreMs.toFixed(0)} ms`);
    assert.ok(before >= 2 && back === before, `every Chromium process is back: ${back} of ${before}`);
    assert.match(await windowNames(desktop), /"Freezeframe counter"/);
  });
});
