// The trust check before every restore, with real checkpoints: a real one passes and restores; hostile images made
// from it (a task made root, a capability, a writable file in /etc, an image that does not decode) are refused
// through the engine's restore, and nothing changes: no criu run, no process, the same state, every image kept.
import assert from 'node:assert/strict';
import { access, cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { failure } from '../server/api/results';
import { assertTrustedImages, trustCacheCounts } from '../server/criu/trust';
import { roomOf } from '../server/desktops/rooms';
import { readLaunchMounts } from '../server/desktops/launchMounts';
import { inside } from '../server/sandbox/layout';
import { decodeProto, imageEntries } from '../server/criu/images';
import { identify, treePids } from '../server/desktops/processes';
import { isPortFree } from '../server/desktops/net';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { editImage, setField } from './support/protoEdit';

/** pid -> comm of every task in a checkpoint (pstree.img, core-N.img's task_core comm). */
async function tasksOf(images: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const p of imageEntries(await readFile(path.join(images, 'pstree.img'))).map(decodeProto)) {
    const pid = Number(p.get(1)![0]);
    const core = decodeProto(imageEntries(await readFile(path.join(images, `core-${pid}.img`)))[0]);
    const tc = decodeProto(core.get(3)![0] as Uint8Array);
    out.set(pid, Buffer.from(tc.get(6)![0] as Uint8Array).toString());
  }
  return out;
}

describe('the trust check before a restore', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('150-159')));
  after(async () => dispose());

  test('a real checkpoint passes and restores; hostile images made from it are refused and change nothing', async (t) => {
    const { desktops, config } = engine;
    const desktop = await desktops.start({ geometry: '640x480' }); // the default apps: xterm and xclock
    await eventually(async () => {
      const comms = await Promise.all((await treePids(desktop.pid!)).map((p) => readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')));
      for (const name of ['xterm', 'xclock', 'bash']) assert.ok(comms.some((c) => c.trim() === name), `${name} in ${comms}`);
    });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const dir = path.join(config.stateDir, 'checkpoints', checkpoint.id);
    const images = path.join(dir, 'images');
    const pristine = `${images}.pristine`;
    await cp(images, pristine, { recursive: true });
    const names = (await readdir(images)).sort();
    const tasks = await tasksOf(images);
    const pidOf = (comm: string) => [...tasks].find(([, c]) => c === comm)![0];
    // What the restore expects of a contained desktop (operations/restore.ts): its inside paths, its own folders.
    const log = inside.log;
    const expected = {
      uid: desktop.uid!, gid: desktop.gid!, home: inside.home, log,
      contained: { hostHome: roomOf(desktops.paths, desktop.id).home, hidden: [config.stateDir], appDir: config.rootDir },
      launchMounts: await readLaunchMounts(desktops.paths.desktopLaunchMounts(desktop.id)),
    };

    // The check alone, on the real images: what it adds to a restore (also in bench/analysis/trust.mts).
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await assertTrustedImages(images, checkpoint.id, expected);
      times.push(performance.now() - t0);
    }
    t.diagnostic(`trust check of the default desktop (${tasks.size} tasks): ${times.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    // The images decoded once, then judged from what was decoded: unchanged files, the same fingerprint (once they
    // are a few ticks old: images written within the last 10 ms are decoded each time, criu/trust.ts).
    await eventually(async () => {
      const kept = trustCacheCounts.kept;
      await assertTrustedImages(images, checkpoint.id, expected);
      assert.ok(trustCacheCounts.kept > kept, 'a check of unchanged images judged them from their kept decoding');
    });
    // Every hostile edit below changes a file the cache was filled from: each must be seen (refused), never judged
    // from the decoding of the real images.

    const hostile = [
      {
        what: `task ${pidOf('xterm')} (xterm) made root`,
        edit: () => editImage(path.join(images, `core-${pidOf('xterm')}.img`), (e) => setField(e, [5, 10, 1], 0)),
        named: new RegExp(`task ${pidOf('xterm')}: uid 0`),
      },
      {
        what: `task ${pidOf('xclock')} (xclock) given CAP_SYS_ADMIN`,
        edit: () => editImage(path.join(images, `core-${pidOf('xclock')}.img`), (e) => setField(e, [5, 10, 11], 1 << 21)),
        named: new RegExp(`task ${pidOf('xclock')}: effective capabilities cap 21`),
      },
      {
        what: 'the desktop log, open for writing, renamed /etc/freezeframe-test',
        edit: () => editImage(path.join(images, 'files.img'), (e) => {
          const reg = decodeProto(e).get(3)?.[0];
          const name = reg instanceof Uint8Array ? decodeProto(reg).get(6)?.[0] : undefined;
          return name instanceof Uint8Array && Buffer.from(name).toString() === log ? setField(e, [3, 6], '/etc/freezeframe-test') : e;
        }),
        named: /file opened for writing \/etc\/freezeframe-test/,
      },
      {
        what: 'a files image that does not decode',
        edit: async () => {
          const buf = await readFile(path.join(images, 'files.img'));
          await writeFile(path.join(images, 'files.img'), buf.subarray(0, buf.length - 7));
        },
        named: /cannot be checked \(truncated/,
      },
    ];
    for (const h of hostile) {
      await h.edit();
      const recordBefore = await desktops.get(desktop.id);
      const bytesBefore = await readFile(path.join(images, 'files.img'));
      await assert.rejects(desktops.restore(checkpoint.id), (error) => {
        assert.ok(error instanceof FreezeframeError, String(error));
        assert.equal(error.code, 'untrusted_images', error.message);
        assert.match(error.message, h.named, h.what);
        // Through the API: 422, the violations listed, and what to do.
        const answer = failure(error);
        assert.equal(answer.status, 422);
        if (!h.what.includes('decode')) assert.match(answer.error.errors!.join('\n'), h.named);
        assert.match(answer.error.hint ?? '', /restore only checkpoints/);
        return true;
      }, h.what);
      // Nothing changed: same record (not even rewritten), no restore on record, criu never ran (no restore log),
      // no process on the desktop's port, every image there as it was.
      assert.deepEqual(await desktops.get(desktop.id), recordBefore, h.what);
      assert.equal(recordBefore.state, 'checkpointed');
      assert.deepEqual((await desktops.getCheckpoint(checkpoint.id)).restores, [], h.what);
      assert.ok(!(await readdir(dir)).some((f) => f.startsWith('restore-')), `${h.what}: criu ran`);
      assert.ok(await isPortFree(desktop.vncPort), `${h.what}: something listens on ${desktop.vncPort}`);
      assert.deepEqual((await readdir(images)).sort(), names, h.what);
      assert.deepEqual(await readFile(path.join(images, 'files.img')), bytesBefore, h.what);
      await assert.rejects(access('/etc/freezeframe-test'));
      // Back to the real images for the next case.
      await rm(images, { recursive: true });
      await cp(pristine, images, { recursive: true });
    }

    // The real images, untouched, pass and restore: the same desktop runs again.
    const restored = await desktops.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    assert.ok(await identify(restored.desktop.pid!), 'the restored root is alive');
    assert.ok((await stat(path.join(dir, 'restore-1.log'))).size > 0);
    await rm(pristine, { recursive: true });
  });
  test('a zombie in the tree (a child exited, not reaped) is no task to judge: the checkpoint restores, the zombie with it', async () => {
    const { desktops } = engine;
    // bash forks a subshell that exits 3 a second later, once bash has become sleep, which never reaps it (Firefox's glxtest, seconds after
    // its start, is such a zombie: its checkpoints were refused as untrusted).
    const desktop = await desktops.start({ geometry: '640x480', apps: [], commands: [['bash', '-c', '(sleep 1; exit 3) & exec sleep 100000']] });
    // treePids() leaves zombies out (no live task): they are found as the live tasks' children.
    const zombiesOf = async (root: number) => {
      const children = (await Promise.all((await treePids(root)).map((p) => readFile(`/proc/${p}/task/${p}/children`, 'utf8').catch(() => ''))))
        .flatMap((list) => list.trim().split(/\s+/).filter(Boolean).map(Number));
      const states = await Promise.all(children.map(async (p) => [p, (await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '')).replace(/^.*\) /, '')[0]] as const));
      const zombies = states.filter(([, state]) => state === 'Z').map(([p]) => p);
      // Its PID inside the desktop's PID namespace (what criu restores; the host's differs).
      return Promise.all(zombies.map(async (p) => Number(/^NSpid:.*\s(\d+)$/m.exec(await readFile(`/proc/${p}/status`, 'utf8').catch(() => ''))?.[1])));
    };
    const before = await eventually(async () => {
      const found = await zombiesOf(desktop.pid!);
      assert.equal(found.length, 1, `one zombie in the tree (${found})`);
      return found;
    });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const back = await desktops.restore(checkpoint.id);
    assert.equal(back.desktop.state, 'running');
    assert.deepEqual(await zombiesOf(back.desktop.pid!), before, 'the same zombie, at the same PID in the desktop');
    await desktops.stop(desktop.id);
  });

  test("a server's checkpoint is decoded in its follow-up: its restore judges what was decoded, decoding nothing", async () => {
    const { desktops } = engine;
    // What the server does at its start (server/main.ts): among the rest, each checkpoint's images decoded after its reply.
    await desktops.keepReady();
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    // The follow-up awaited, as a restore coming later finds it done (desktops.checkpoint waits for it).
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const before = { ...trustCacheCounts };
    const restored = await desktops.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    assert.deepEqual({ decoded: trustCacheCounts.decoded - before.decoded, kept: trustCacheCounts.kept - before.kept }, { decoded: 0, kept: 1 }, 'the restore judged the decoding its checkpoint\'s follow-up made');
  });
});
