// Apps beyond the defaults: a command of the user's own, and Firefox ESR set up so that criu can dump it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { treePids } from '../server/desktops/processes';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

const comms = async (pid: number) =>
  Promise.all((await treePids(pid)).map((p) => readFile(`/proc/${p}/comm`, 'utf8').then((c) => c.trim(), () => '')));

/** The names of the desktop's top-level windows, as the X server knows them. */
async function windowNames(display: number): Promise<string> {
  const { stdout } = await promisify(execFile)('xwininfo', ['-root', '-tree', '-display', `:${display}`], { timeout: 10_000 });
  return stdout;
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
    await eventually(async () => assert.match(await windowNames(desktop.display), /Mozilla Firefox/), 60_000);
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
    assert.match(await windowNames(desktop.display), /Mozilla Firefox/);
  });
});
