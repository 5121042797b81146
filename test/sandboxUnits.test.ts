// Pure pieces of self-contained desktops: newns's argv, the criu flags, the generated passwd (no root needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criuArgs } from '../server/criu/options';
import { containedDumpOptions, containedRestoreOptions } from '../server/sandbox/criuFlags';
import { containedLaunchArgs } from '../server/sandbox/launch';
import { withDesktopEntry } from '../server/sandbox/passwd';
import { netnsPath } from '../server/sandbox/netns';
import { isReservedUid, subordinateRanges } from '../server/desktops/uids';

test('newns gets the namespace, the private /tmp and the fixed paths; display :1 always', () => {
  const args = containedLaunchArgs({
    newnsPath: '/n', rootDir: '/tmp/ff', desktopScript: '/tmp/ff/native/desktop.sh', netnsPath: '/run/netns/ff-a', homeDir: '/state/a/home', runDir: '/state/a/run',
    ids: { uid: 2000001, gid: 2000001 }, user: 'desktop', passwdFile: '/state/a/passwd', hide: ['/state'], geometry: '800x600', withPassword: true, appArgs: ['1', 'xclock'],
  });
  assert.deepEqual(args, [
    '--log', '/run/desktop/desktop.log', '--ids', '2000001:2000001', '--user', 'desktop', '--hostname', 'desktop',
    '--netns', '/run/netns/ff-a', '--private-tmp', '--bind', '/state/a/home:/home/desktop', '--bind', '/state/a/run:/run/desktop',
    '--bind', '/tmp/ff:/run/desktop/app', '--bind', '/state/a/passwd:/etc/passwd', '--hide', '/state', '--', '/run/desktop/app/native/desktop.sh', '1', '800x600', '24', '/run/desktop/vnc.passwd', 'icewm', '1', 'xclock',
  ]);
  assert.throws(() => containedLaunchArgs({ newnsPath: '/n', rootDir: '/tmp/ff', desktopScript: '/elsewhere/d.sh', netnsPath: '/p', homeDir: '/h', runDir: '/r', user: 'u', geometry: '1x1', withPassword: false, appArgs: [] }), /not in \/tmp\/ff/);
  assert.throws(() => containedLaunchArgs({ newnsPath: '/n', rootDir: '/', desktopScript: '/d', netnsPath: '/p', homeDir: '/h', runDir: '/r', geometry: '1x1', withPassword: false, appArgs: [] }), /user or ids/);
});

test('criu: externals at dump, inherited namespace and host folders at restore', () => {
  assert.deepEqual(criuArgs('dump', { tree: 7, ...containedDumpOptions(4026532181, { ownUser: true }) }), [
    'dump', '--tree', '7', '--tcp-established', '--network-lock', 'nftables',
    '--external', 'net[4026532181]:desktop-net', '--external', 'mnt[/home/desktop]:desktop-home', '--external', 'mnt[/run/desktop]:desktop-run',
    '--external', 'mnt[/etc/passwd]:desktop-passwd', '--external', 'mnt[/etc/group]:desktop-group', '--external', 'mnt[]',
  ]);
  assert.deepEqual(criuArgs('restore', containedRestoreOptions({ homeDir: '/c/home', runDir: '/c/run' }, false)), [
    'restore', '--tcp-close', '--network-lock', 'skip',
    '--external', 'mnt[]', '--external', 'mnt[desktop-home]:/c/home', '--external', 'mnt[desktop-run]:/c/run', '--inherit-fd', 'fd[3]:desktop-net',
  ]);
  assert.deepEqual(criuArgs('restore', containedRestoreOptions({ homeDir: '/h', runDir: '/r' }, true)).slice(0, 4), ['restore', '--tcp-established', '--network-lock', 'nftables']);
  assert.throws(() => criuArgs('dump', { external: [''] }), /list of non-empty strings/);
});

test('the generated passwd replaces any entry with the name or the ids, keeps the rest', () => {
  const files = withDesktopEntry('root:x:0:0::/root:/bin/bash\ndesktop:x:1000:1000::/home/d:/bin/sh\nold:x:2000001:5::/:/bin/sh\n', 'root:x:0:\ndesktop:x:1000:\n', { uid: 2000001, gid: 2000002 });
  assert.equal(files.passwd, 'root:x:0:0::/root:/bin/bash\ndesktop:x:2000001:2000002:Freezeframe desktop:/home/desktop:/bin/bash\n');
  assert.equal(files.group, 'root:x:0:\ndesktop:x:2000002:\n');
});

test('namespace names are checked', () => {
  assert.equal(netnsPath('ff-1'), '/run/netns/ff-1');
  assert.throws(() => netnsPath('../x'), /not a network namespace name/);
});

test('the uids of the desktops: the reserved range, and what /etc/subuid delegates is read as ranges', () => {
  assert.equal(isReservedUid(2_000_000), true);
  assert.equal(isReservedUid(2_999_999), true);
  for (const uid of [0, 1000, 65534, 1_999_999, 3_000_000, 2_000_000.5, '2000000', undefined]) assert.equal(isReservedUid(uid), false, String(uid));
  assert.deepEqual(subordinateRanges('alice:100000:65536\n# a comment\nbob:2000000:10\n\nbroken:x:1\n'), [[100000, 65536], [2000000, 10]]);
});
