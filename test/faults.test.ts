// Faults: the server killed during a dump or a restore, and a disk that fills up during a dump.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { createEngine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { identify } from '../server/desktops/processes';
import type { DesktopRecord } from '../server/desktops/records';
import { tailFile } from '../server/desktops/logs';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

const displays = '30-39';

/**
 * Runs the CLI on the engine's state dir and SIGKILLs it while its criu works, as a crash of the server would.
 * criu takes a fraction of a second, so the test pauses it (SIGSTOP) the moment the record names it, kills the
 * CLI, and lets criu go on (SIGCONT): the crash lands mid-operation every time.
 */
async function killCliDuring(engine: Engine, desktopId: string, args: string[], state: string): Promise<void> {
  const cli = spawn(path.resolve('bin/freezeframe.js'), args, {
    env: { ...process.env, FREEZEFRAME_STATE_DIR: engine.config.stateDir, FREEZEFRAME_DISPLAYS: displays },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => cli.once('exit', r));
  const recordFile = engine.desktops.paths.desktopRecord(desktopId);
  const deadline = Date.now() + 20_000;
  let criuPid: number | undefined;
  while (!criuPid) {
    const record = JSON.parse(await readFile(recordFile, 'utf8').catch(() => '{}')) as DesktopRecord;
    if (record.state === state && record.lastOperation?.criuPid) criuPid = record.lastOperation.criuPid;
    else if (Date.now() > deadline) throw new Error(`the desktop never showed criu at work (${record.state})`);
    else await setTimeout(2);
  }
  process.kill(criuPid, 'SIGSTOP');
  try {
    // bin/freezeframe.js runs the compiled CLI in its own process: this is the whole of it.
    cli.kill('SIGKILL');
    await exited;
  } finally {
    process.kill(criuPid, 'SIGCONT');
  }
}

describe('faults', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine(displays)));
  after(async () => dispose());

  test('the server killed during a dump: the checkpoint completes and the desktop reads checkpointed', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
    await killCliDuring(engine, desktop.id, ['checkpoint', desktop.id], 'checkpointing');
    const frozen = await eventually(async () => {
      const record = await desktops.get(desktop.id);
      // What the reconcile judged by, said when it went wrong: criu's last log lines and the checkpoint's record.
      const cp = record.lastOperation?.checkpoint;
      // The checkpoint's error first (the facts the reconcile judged by, reconcile.ts): CI keeps only a message's head.
      const judged = async () => JSON.stringify((await desktops.getCheckpoint(cp!).catch(() => undefined))?.error);
      const why = record.state === 'checkpointed' || !cp ? '' : `; the checkpoint's error: ${await judged()}; dump.log ends: ${(await tailFile(desktops.paths.checkpointDumpLog(cp), 6)).join(' | ')}`;
      assert.equal(record.state, 'checkpointed', `state ${record.state}: ${JSON.stringify(record.lastError)}${why}`);
      return record;
    }, 30_000);
    const checkpoint = await desktops.getCheckpoint(frozen.lastCheckpoint!);
    assert.equal(checkpoint.state, 'complete');
    assert.ok(checkpoint.imageBytes! > 1_000_000, `images kept: ${checkpoint.imageBytes}`);
    const back = await desktops.restore(checkpoint.id);
    assert.equal(back.desktop.state, 'running');
  });

  test('the server killed during a restore: the desktop reads running', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    await killCliDuring(engine, desktop.id, ['restore', checkpoint.id], 'restoring');
    const running = await eventually(async () => {
      const record = await desktops.get(desktop.id);
      assert.equal(record.state, 'running', `state ${record.state}: ${JSON.stringify(record.lastError)}`);
      return record;
    }, 30_000);
    assert.ok(await identify(running.pid!), 'the restored tree is alive');
    await access(path.join(engine.config.stateDir, 'checkpoints', checkpoint.id, 'images', 'inventory.img'));
  });

  test('a disk that fills up during a dump: a clear error, the desktop keeps running, no partial images', async () => {
    // A state folder on a tmpfs far smaller than a desktop's images (about 30 MB).
    const small = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'freezeframe-full', small]);
    const tiny = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: small, FREEZEFRAME_DISPLAYS: displays });
    try {
      const desktop = await tiny.desktops.start({ geometry: '640x480', apps: ['xclock'] });
      await assert.rejects(tiny.desktops.checkpoint(desktop.id), (error: unknown) => {
        assert.ok(error instanceof FreezeframeError, String(error));
        const info = error.details.error as { hint?: string; errors?: string[] };
        assert.match(info.hint ?? '', /disk .* is full/, JSON.stringify(info));
        // The log lives on the full disk too and may be cut mid-line: the free space itself is the evidence.
        assert.match(info.errors?.[0] ?? '', /No space left on device: \d+ bytes free/, JSON.stringify(info));
        return true;
      });
      const record = await tiny.desktops.get(desktop.id);
      assert.equal(record.state, 'running');
      assert.ok(await identify(record.pid!), 'the desktop runs on');
      const [checkpoint] = await tiny.desktops.checkpoints(desktop.id);
      assert.equal(checkpoint.state, 'failed');
      await assert.rejects(readdir(path.join(small, 'checkpoints', checkpoint.id, 'images')), /ENOENT/, 'partial images removed');
    } finally {
      for (const d of await tiny.desktops.list()) await tiny.desktops.stop(d.id).catch(() => {});
      execFileSync('umount', [small]);
      await rm(small, { recursive: true, force: true });
    }
  });
});
