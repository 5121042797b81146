// Pure logic: criu flag mapping, log verdicts and hints, the state machine, CRIU's iptables rules, input bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { criuArgs } from '../server/criu/options';
import { loadConfig } from '../server/config';
import { rcuExpeditedSetting } from '../server/criu/rcu';
import { hintFor, readVerdict } from '../server/criu/verdict';
import { decodeResponse, encodeRequest, rpcCanSay, rpcConfigLines } from '../server/criu/rpc';
import { decodeProto } from '../server/criu/images';
import { canTransition, assertTransition, TransitionError } from '../lib/states';
import { criuRulesFor } from '../server/desktops/cleanup';
import { existsSync, readFileSync } from 'node:fs';
import { appArgs, appPresets, checkCriuNeeds, criuNeeds, customApp, maxGhostLimit, parseGeometry, resolveApps } from '../lib/presets';
import { clock, when } from '../lib/format';

describe('criu options', () => {
  test('map to CRIU flags in one fixed order', () => {
    assert.deepEqual(
      criuArgs('restore', { pidfile: '/p', root: '/', restoreDetached: true, tcpEstablished: true, imagesDir: '/i', logFile: '/l', logLevel: 4, fileLocks: true }),
      ['restore', '--images-dir', '/i', '--log-file', '/l', '--tcp-established', '--file-locks', '--restore-detached', '--root', '/', '--pidfile', '/p', '-v4'],
    );
    assert.deepEqual(criuArgs('dump', { tree: 42, leaveRunning: false }), ['dump', '--tree', '42']);
    assert.deepEqual(criuArgs('dump', { tree: 42, ghostLimit: 8 << 20 }), ['dump', '--tree', '42', '--ghost-limit', '8388608']);
    assert.deepEqual(criuArgs('dump', { tree: 42, refuseFdsInFlight: true }), ['dump', '--tree', '42', '--refuse-fds-in-flight']);
  });
  test('refuse nonsense', () => {
    assert.throws(() => criuArgs('dump', { tcpEstablished: true, tcpClose: true }), /exclude/);
    assert.throws(() => criuArgs('dump', { logLevel: 7 }), /0\.\.4/);
    assert.throws(() => criuArgs('dump', { imagesDir: '' }), /needs a value/);
  });
  test("criu's log levels and the host's RCU setting: defaults, and nonsense refused", () => {
    const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;
    assert.equal(loadConfig(env({})).criuLogLevel, 3, '-v3 by default');
    assert.equal(loadConfig(env({})).criuLazyLogLevel, 4, "the lazy-pages daemon at -v4: its page counts are debug lines");
    assert.equal(loadConfig(env({ FREEZEFRAME_CRIU_LOG_LEVEL: '4' })).criuLogLevel, 4);
    assert.throws(() => loadConfig(env({ FREEZEFRAME_CRIU_LOG_LEVEL: '2' })), /3 or 4/);
    assert.throws(() => loadConfig(env({ FREEZEFRAME_CRIU_LAZY_LOG_LEVEL: 'x' })), /3 or 4/);
    assert.equal(rcuExpeditedSetting(env({})), undefined, "unset: the host's setting is left alone");
    assert.equal(rcuExpeditedSetting(env({ FREEZEFRAME_RCU_EXPEDITED: '1' })), '1');
    assert.throws(() => rcuExpeditedSetting(env({ FREEZEFRAME_RCU_EXPEDITED: 'yes' })), /must be 1/);
  });
});

describe('criu RPC (swrk) requests', () => {
  const str = (f: Map<number, (bigint | Uint8Array)[]>, n: number) => (f.get(n) ?? []).map((v) => Buffer.from(v as Uint8Array).toString());
  test('a dump: the tree, the flags, -1 as images_dir_fd (ten bytes), the option file', () => {
    const req = decodeProto(encodeRequest('dump', { imagesDir: '/i', tree: 42, tcpEstablished: true, fileLocks: true, skipInFlight: true, leaveRunning: false, logLevel: 4, networkLock: 'nftables', external: ['mnt[]'] }, '/c.conf'));
    assert.equal(req.get(1)?.[0], 1n, 'DUMP');
    const opts = decodeProto(req.get(2)![0] as Uint8Array);
    assert.equal(opts.get(1)?.[0], 2n ** 64n - 1n, 'images_dir_fd -1');
    assert.deepEqual(str(opts, 68), ['/i']);
    assert.equal(opts.get(2)?.[0], 42n);
    for (const n of [5, 8, 46]) assert.equal(opts.get(n)?.[0], 1n, `field ${n}`);
    assert.equal(opts.get(3), undefined, 'leaveRunning false is not sent');
    assert.equal(opts.get(9)?.[0], 4n);
    assert.equal(opts.get(64)?.[0], 2n, 'NFTABLES');
    assert.deepEqual(str(opts, 37), ['mnt[]']);
    assert.deepEqual(str(opts, 51), ['/c.conf']);
  });
  test('a restore: what RPC cannot say goes to the option file; some options need the command line', () => {
    const req = decodeProto(encodeRequest('restore', { imagesDir: '/i', tcpClose: true, root: '/', restoreDetached: true }, '/c.conf'));
    assert.equal(req.get(1)?.[0], 2n, 'RESTORE');
    const opts = decodeProto(req.get(2)![0] as Uint8Array);
    assert.equal(opts.get(52)?.[0], 1n);
    assert.deepEqual(str(opts, 13), ['/']);
    assert.deepEqual(rpcConfigLines({ pidfile: '/p/restore.pid' }, '/p/restore-1.log'), ['log-file "/p/restore-1.log"', 'pidfile "/p/restore.pid"']);
    // Our criu patch's option has no criu_opts field: the option file says it (scripts/criu-patches/0005).
    assert.equal(rpcCanSay({ refuseFdsInFlight: true }, '/l'), true);
    assert.deepEqual(rpcConfigLines({ refuseFdsInFlight: true }, '/d/dump.log'), ['log-file "/d/dump.log"', 'refuse-fds-in-flight']);
    // A kept namespace given to a worker: its fd 3 is the socket, so the command line's fd[3] is the worker's 4.
    assert.equal(rpcCanSay({ inheritFd: ['fd[3]:net'] }, '/l'), true);
    const inherited = decodeProto(decodeProto(encodeRequest('restore', { imagesDir: '/i', inheritFd: ['fd[3]:desktop-net'] }, '/c')).get(2)![0] as Uint8Array).get(27)!;
    assert.equal(inherited.length, 1);
    const entry = decodeProto(inherited[0] as Uint8Array);
    assert.deepEqual([str(entry, 1), entry.get(2)?.[0]], [['desktop-net'], 4n]);
    assert.throws(() => encodeRequest('restore', { imagesDir: '/i', inheritFd: ['3:net'] }, '/c'), /fd\[N\]:KEY/);
    assert.equal(rpcCanSay({ pidfile: '/a"b' }, '/l'), false);
    assert.equal(rpcCanSay({ pidfile: '/p' }, '/l'), true);
    assert.equal(rpcCanSay({ feature: 'x' }, '/l'), false, 'an option the encoder does not say goes to the command line');
    assert.equal(decodeProto(decodeProto(encodeRequest('dump', { imagesDir: '/i', tree: 1, ghostLimit: 268435456 }, '/c')).get(2)![0] as Uint8Array).get(35)?.[0], 268435456n);
    assert.throws(() => encodeRequest('dump', { imagesDir: '/i' }, '/c'), /tree/);
  });
  test('the answer: success, the restored pid, criu\'s error message', () => {
    // criu_resp { type: RESTORE, success: true, restore { pid: 1234 } } and { type: DUMP, success: false, cr_errmsg }
    assert.deepEqual(decodeResponse(Buffer.from([0x08, 0x02, 0x10, 0x01, 0x22, 0x03, 0x08, 0xd2, 0x09])), { success: true, pid: 1234, errno: undefined, errmsg: undefined });
    const msg = Buffer.from('boom');
    assert.deepEqual(decodeResponse(Buffer.from([0x08, 0x01, 0x10, 0x00, 0x4a, msg.length, ...msg])), { success: false, pid: undefined, errno: undefined, errmsg: 'boom' });
  });
});

describe('criu log verdicts', () => {
  test('over RPC, a requester gone after the work does not make a failure of it', () => {
    const log = '(00.2) Dumping finished successfully\n(00.3) Error (criu/cr-service.c:121): Can\'t send response: Broken pipe\n';
    assert.deepEqual(readVerdict('dump', log), { ok: true, lastLine: 'Dumping finished successfully', errors: [] });
  });
  test('dump: success is the last line', () => {
    const v = readVerdict('dump', '(00.1) Error (criu/util.c:1534): rlimit: Can\'t setup RLIMIT_NOFILE for self: Operation not permitted\n(00.2) Dumping finished successfully\n');
    assert.equal(v.ok, true);
    assert.deepEqual(v.errors, [], 'the rlimit error criu prints on every run is not a cause');
  });
  test('restore: bookkeeping lines may follow the verdict, errors may not', () => {
    const ok = '(00.22) Restore finished successfully. Tasks resumed.\n(00.22) Writing stats\n(00.22) Running post-resume scripts\n';
    assert.equal(readVerdict('restore', ok).ok, true);
    assert.equal(readVerdict('restore', ok + '(00.3) Error (x.c:1): boom\n').ok, false);
  });
  test('failure: first Error lines, in order', () => {
    const log = '(0.1) Error (a.c:1): first\n(0.2) Warn (b.c:2): w\n(0.3) Error (c.c:3): second\n(0.4) Error (d.c:4): third\n(0.5) Error (e.c:5): fourth\n(0.6) Dumping FAILED.\n';
    const v = readVerdict('dump', log);
    assert.equal(v.ok, false);
    assert.deepEqual(v.errors, ['Error (a.c:1): first', 'Error (c.c:3): second', 'Error (d.c:4): third']);
    assert.equal(v.lastLine, 'Dumping FAILED.');
    const restorer = readVerdict('restore', "(0.1) pie: 10: Error (criu/pie/restorer.c:1): Can't read pages data\n(0.2) Error (criu/cr-restore.c:2): Restoring FAILED.\n");
    assert.deepEqual(restorer.errors, ["pie: 10: Error (criu/pie/restorer.c:1): Can't read pages data", 'Error (criu/cr-restore.c:2): Restoring FAILED.']);
  });
  test('hints for the causes measured here', () => {
    assert.match(hintFor('Error (files-reg.c:1): File home/x.log has bad size 10 (expect 5)')!, /changed size/);
    assert.match(hintFor('Unable to open dev/ptmx with specified index 3')!, /devpts/);
    assert.match(hintFor('vDSO: unknown [vvar_vclock]')!, /4\.2/);
    assert.match(hintFor("Error (criu/cr-dump.c:389): Can't get rlimit 0: Operation not permitted")!, /criu-patches/);
    assert.match(
      hintFor("Error (criu/files-reg.c:1031): Can't dump ghost file /s/desktops/d-1/home/.freezeframe-chromium/BrowserMetrics/BrowserMetrics-6B0CF855-C.pma of 4194304 size, increase limit")!,
      /--ghost-limit/,
    );
    assert.equal(hintFor('something nobody has seen'), undefined);
  });
});

describe('desktop states', () => {
  test('only listed transitions', () => {
    assert.ok(canTransition('running', 'checkpointing'));
    assert.ok(canTransition('checkpointed', 'restoring'));
    assert.ok(canTransition('restoring', 'checkpointed'), 'a failed restore leaves it frozen');
    assert.ok(!canTransition('checkpointed', 'checkpointing'));
    assert.ok(!canTransition('stopped', 'running'));
    assert.ok(!canTransition('running', 'restoring'));
    assert.throws(() => assertTransition('stopped', 'checkpointing'), TransitionError);
    // A stop is recorded before the tree dies, and ends nowhere but stopped.
    assert.ok(canTransition('running', 'stopping') && canTransition('failed', 'stopping'));
    assert.ok(canTransition('stopping', 'stopped'));
    assert.ok(!canTransition('stopping', 'running') && !canTransition('stopping', 'restoring'));
  });
});

describe("CRIU's leftover iptables rules", () => {
  const rules = `-P INPUT ACCEPT
-A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 38380 --dport 5907 -j DROP
-A OUTPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 5907 --dport 38380 -j DROP
-A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 40000 --dport 5908 -j DROP
-A INPUT -p tcp -m tcp --dport 5907 -j DROP`;
  test("only that desktop's port, only CRIU's own rules", () => {
    const mine = criuRulesFor(5907, rules);
    assert.equal(mine.length, 2);
    assert.ok(mine.every((r) => r.includes('5907') && r.includes('0xc114')), mine.join('\n'));
    assert.equal(criuRulesFor(5909, rules).length, 0);
  });
});

describe('desktop input', () => {
  test('geometry within bounds', () => {
    assert.deepEqual(parseGeometry('1024x768'), { width: 1024, height: 768 });
    for (const bad of ['1024', '10x10', '99999x768', '1024x768;rm', ' 800x600']) assert.throws(() => parseGeometry(bad), RangeError);
  });
  test('apps by preset name, passed as counted argv', () => {
    assert.throws(() => resolveApps(['xterm; reboot']), /unknown app/);
    assert.deepEqual(appArgs(resolveApps(['xclock']), '/r'), ['5', 'xclock', '-update', '1', '-geometry', '200x200-10+10']);
    assert.deepEqual(appArgs(resolveApps(['xpdf']), '/r'), ['4', 'xpdf', '-geometry', '640x520+10+10', '/r/native/apps/sample.pdf']);
  });
  test("a desktop needs of criu the most any of its presets asks for; an imported record's needs are checked", () => {
    assert.equal(criuNeeds(resolveApps(['xterm', 'xclock'])), undefined);
    assert.equal(criuNeeds([customApp(['chromium', '--no-sandbox'])]), undefined, 'a command of your own raises nothing');
    assert.deepEqual(criuNeeds(resolveApps(['xterm', 'chromium'])), { ghostLimit: appPresets.chromium.criu!.ghostLimit });
    assert.deepEqual(criuNeeds([{ ...appPresets.xterm, criu: { ghostLimit: 5 } }, { ...appPresets.xclock, criu: { ghostLimit: 9 } }]), { ghostLimit: 9 });
    assert.equal(checkCriuNeeds(undefined), undefined);
    assert.deepEqual(checkCriuNeeds({ ghostLimit: 1 << 20 }), { ghostLimit: 1 << 20 });
    for (const bad of [null, 'x', { ghostLimit: -1 }, { ghostLimit: 1.5 }, { ghostLimit: maxGhostLimit + 1 }, { ghostLimit: '8M' }, { tree: 1 }]) {
      assert.throws(() => checkCriuNeeds(bad), RangeError, JSON.stringify(bad));
    }
  });
  test("every preset's files are in the repository and its Debian package in the install's list", () => {
    const root = new URL('..', import.meta.url).pathname;
    const install = readFileSync(`${root}scripts/install.sh`, 'utf8');
    for (const preset of Object.values(appPresets)) {
      for (const arg of preset.argv.filter((a) => a.startsWith('{root}/'))) assert.ok(existsSync(root + arg.slice('{root}/'.length)), `${preset.name}: ${arg}`);
      assert.match(install, new RegExp(`\\b${preset.debianPackage}\\b`), `${preset.name}: ${preset.debianPackage} in scripts/install.sh`);
    }
  });
});

describe('CRIU images', () => {
  test("stats-dump and stats-restore, as criu 4.2.1 wrote them here", async () => {
    const { decodeStats } = await import('../server/criu/images');
    const dump = decodeStats(Buffer.from('405910550633095726000000' + '0a2408ac0510f9b80e1888820220e37f28e83530003' + '8ea304000480050205820600068007000', 'hex'));
    assert.deepEqual(dump.dump, {
      freezingMs: 0.684, frozenMs: 236.665, memdumpMs: 33.032, memwriteMs: 16.355,
      pagesScanned: 6888, pagesSkippedParent: 0, pagesWritten: 6250,
    });
    const restore = decodeStats(Buffer.from('405910550633095710000000120e0800100018a20120a4c40a28ea30', 'hex'));
    assert.equal(restore.restore?.forkingMs, 0.162);
    assert.equal(restore.restore?.restoreMs, 172.580);
    assert.equal(restore.restore?.pagesRestored, 6250);
    assert.throws(() => decodeStats(Buffer.from('4059105506330957ff000000', 'hex')), /truncated/);
  });
  test('a ghost-file image: one entry, then the deleted file\'s raw contents', async () => {
    const { imageEntries } = await import('../server/criu/images');
    // Two magics, a GhostFileEntry (uid 999, gid 995, mode 0100600) and 4 KiB of contents that are no entries.
    const entry = Buffer.from('08e70710e30718808302', 'hex');
    const image = Buffer.concat([Buffer.alloc(8), Buffer.from([entry.length, 0, 0, 0]), entry, Buffer.alloc(4096, 0xab)]);
    assert.throws(() => imageEntries(image), /truncated/);
    assert.deepEqual(imageEntries(image, 1), [entry]);
  });
});

describe('thumbnails', () => {
  test('PNG encoding and box-filter scaling', async () => {
    const { encodePng, scaleDown } = await import('../server/vnc/png');
    const { inflateSync } = await import('node:zlib');
    // 4x2: left half red, right half blue -> 2x1: one red, one blue pixel.
    const px = new Uint8Array(4 * 2 * 4);
    for (let i = 0; i < 8; i++) px.set(i % 4 < 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], i * 4);
    const small = scaleDown(4, 2, px, 2);
    assert.deepEqual([small.width, small.height, [...small.pixels]], [2, 1, [255, 0, 0, 255, 0, 0, 255, 255]]);
    const png = encodePng(small.width, small.height, small.pixels);
    assert.equal(png.subarray(12, 16).toString(), 'IHDR');
    const idatLength = png.readUInt32BE(33);
    assert.equal(png.subarray(37, 41).toString(), 'IDAT');
    assert.deepEqual([...inflateSync(png.subarray(41, 41 + idatLength))], [0, 255, 0, 0, 255, 0, 0, 255, 255]);
    assert.throws(() => encodePng(3, 3, px), RangeError);
    // A VNC framebuffer's B, G, R, X order comes out as RGBA.
    const bgrx = new Uint8Array([0, 0, 255, 0, 255, 0, 0, 0]);
    assert.deepEqual([...scaleDown(2, 1, bgrx, 1, 'bgrx').pixels], [128, 0, 128, 255]);
  });
});

describe('access', () => {
  test('loopback needs no token; any other address does, compared in constant time', async () => {
    const { createAuth, isLoopback, tokensMatch, cookieValue } = await import('../server/auth');
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org']) assert.ok(!isLoopback(h), h);
    assert.equal(createAuth('127.0.0.1', 'x').token, undefined);
    assert.equal(createAuth('0.0.0.0', 'secret').token, 'secret');
    assert.ok((createAuth('0.0.0.0', undefined).token ?? '').length >= 32, 'a random token when none is given');
    assert.ok(tokensMatch('secret', 'secret'));
    assert.ok(!tokensMatch('secre', 'secret') && !tokensMatch(undefined, 'secret') && !tokensMatch('', 'secret'));
    assert.equal(cookieValue('a=1; freezeframe_token=s%3Dx; b=2', 'freezeframe_token'), 's=x');
  });
});

describe('custom commands', () => {
  test('argv only, checked', async () => {
    const { checkCommand } = await import('../lib/presets');
    assert.deepEqual(checkCommand(['xeyes', '-geometry', '100x100']), ['xeyes', '-geometry', '100x100']);
    assert.deepEqual(checkCommand(['/usr/bin/xterm', '-e', 'echo $HOME; ls | wc']), ['/usr/bin/xterm', '-e', 'echo $HOME; ls | wc'], 'shell characters are just characters in an argument');
    for (const bad of [[], [''], ['rm -rf /'], ['--help'], ['xeyes', 'a\0b'], Array(33).fill('x')]) assert.throws(() => checkCommand(bad), RangeError, JSON.stringify(bad));
  });
});

describe('times on the pages', () => {
  test('midnight is 00, never 24 (Node ICU writes "24:03:00" for hour12: false: a hydration mismatch after midnight)', () => {
    assert.equal(clock('2026-11-27T00:03:07Z', 'UTC'), '00:03:07 UTC');
    assert.equal(when('2026-11-27T00:03:07Z', 'UTC'), '27 Nov, 00:03:07 UTC');
    assert.equal(clock(undefined), '—');
  });
});
