// Pure logic of the trust check (server/criu/trustRules.ts): decoded entries in, violations out; and the test's
// protobuf editor, which must keep every byte it was not asked to change.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  credsViolations, fileViolations, ghostViolations, imageNameViolations, mountViolations, schedViolations, socketViolations, tarViolations, ttyViolations,
  type Creds, type HostFile, type Mount,
} from '../server/criu/trustRules';
import { decodeProto } from '../server/criu/images';
import { encodeVarint, setField } from './support/protoEdit';

const expected = { uid: 999, gid: 995, home: '/var/lib/freezeframe/desktops/d-1/home', log: '/var/lib/freezeframe/desktops/d-1/desktop.log' };
const desktopCreds = (): Creds => ({
  uid: [999], gid: [995], euid: [999], egid: [995], suid: [999], sgid: [995], fsuid: [999], fsgid: [995], groups: [995],
  capInh: [0, 0], capPrm: [0, 0], capEff: [0, 0], capBnd: [0, 0], capAmb: [0, 0], secbits: [0], noNewPrivs: [1],
});
const whats = (v: { what: string; value: string; pid?: number }[]) => v.map((x) => `${x.pid ?? '-'} ${x.what} ${x.value}`);

describe('trust: credentials', () => {
  test('a desktop task passes', () => {
    assert.deepEqual(credsViolations([{ pid: 1, tid: 1, creds: desktopCreds() }], expected), []);
  });
  test('every id, group, capability set, securebits, no_new_privs and LSM profile is checked, per thread', () => {
    const c = { ...desktopCreds(), suid: [0], fsgid: [0], groups: [995, 27], capBnd: [0xffffffff, 0x1ff], capAmb: [1 << 12, 0], secbits: [0x2f], noNewPrivs: [0], lsmProfile: 'unconfined' };
    assert.deepEqual(whats(credsViolations([{ pid: 1, tid: 7, creds: c }], expected)), [
      '7 suid 0', '7 fsgid 0', '7 supplementary groups 995,27',
      `7 bounding capabilities ${Array.from({ length: 41 }, (_, i) => `cap ${i}`).join(', ')}`, '7 ambient capabilities cap 12',
      '7 securebits 47', '7 no_new_privs 0', '7 LSM profile unconfined',
    ]);
    assert.deepEqual(whats(credsViolations([{ pid: 3, tid: 3 }], expected)), ['3 credentials none in its core image']);
    assert.deepEqual(whats(credsViolations([{ pid: 3, tid: 3, creds: { ...desktopCreds(), uid: [], noNewPrivs: [] } }], expected)), ['3 uid none', '3 no_new_privs unset']);
  });
});

describe('trust: files', () => {
  const reg = (name: string, flags = 0, mode?: number) => ({ id: 1, name, flags, mode, pids: [5] });
  const host = new Map<string, HostFile | null>([
    ['/usr/lib/libc.so.6', { uid: 0, gid: 0, mode: 0o100644 }],
    ['/etc/shadow', { uid: 0, gid: 42, mode: 0o100640 }],
    ['/etc/passwd', { uid: 0, gid: 0, mode: 0o100644 }],
    ['/dev/sda', { uid: 0, gid: 6, mode: 0o060660 }],
    ['/tmp/lu1.tmp/lu2.tmp', { uid: 999, gid: 995, mode: 0o100600 }],
    ['/tmp/someone-elses', { uid: 1000, gid: 1000, mode: 0o100666 }],
    [`${expected.home}/.freezeframe-firefox/places.sqlite`, { uid: 999, gid: 995, mode: 0o100644 }],
    [expected.home, { uid: 999, gid: 995, mode: 0o040700 }],
    [`${expected.home}/planted`, { uid: 0, gid: 0, mode: 0o100640 }], // a link to a file of root's, made after the dump
  ]);
  const check = (...files: ReturnType<typeof reg>[]) => whats(fileViolations(files, expected, host, new Set([1, 10])));
  test('what real desktops open passes', () => {
    assert.deepEqual(check(
      reg(expected.log, 0o102001), reg(`${expected.home}/.freezeframe-firefox/places.sqlite`, 0o500002), reg(expected.home),
      reg('/dev/null', 0o100000, 0o20666), reg('/dev/ptmx', 0o104002, 0o20666), reg('/dev/pts/0', 0o100002, 0o20620),
      reg('/usr/lib/libc.so.6'), reg('/proc/10/net/dev'), reg('/tmp/lu1.tmp/lu2.tmp', 0o100002), reg('/gone/since'),
    ), []);
  });
  test('writing outside the desktop\'s folders, reading what its user cannot, devices, odd paths are refused', () => {
    assert.deepEqual(check(
      reg('/etc/passwd', 0o2001), reg('/etc/freezeframe-test', 0o100), reg('/etc/shadow'), reg('/dev/sda'), reg('/dev/mem', 0, 0o20640),
      reg('/tmp/someone-elses', 0o2), reg('/tmp/not-there', 0o1), reg(`${expected.home}/../desktop.json`, 0o2), reg('relative'),
      reg('/proc/1/mem', 0o2), reg('/var/lib/freezeframe/desktops/d-1/desktop.json', 0o1),
      reg(`${expected.home}/planted`, 0o2), reg(`${expected.home}/planted`), reg(`${expected.home}/new`, 0o101), reg(`${expected.home}/gone`, 0o2),
    ), [
      '5 file opened for writing /etc/passwd', '5 file opened for writing /etc/freezeframe-test',
      '5 file the desktop user cannot read /etc/shadow', '5 device /dev/sda', '5 device /dev/mem',
      '5 file opened for writing that is not the desktop user\'s own /tmp/someone-elses',
      `5 file by a path that is not plain ${expected.home}/../desktop.json`, '5 file by a path that is not plain relative',
      '5 file opened for writing /proc/1/mem', '5 file opened for writing /var/lib/freezeframe/desktops/d-1/desktop.json',
      `5 file opened for writing that is not the desktop user's own ${expected.home}/planted`,
      `5 file the desktop user cannot read ${expected.home}/planted`,
      `5 file opened for writing that is not the desktop user's own ${expected.home}/new`,
    ]);
  });
});

describe('trust: sockets, mounts, tmpfs contents, deleted files, image kinds', () => {
  test('sockets', () => {
    assert.deepEqual(whats(socketViolations([
      { id: 1, pids: [5], kind: 'inet', type: 1, port: 5950 },
      { id: 2, pids: [5], kind: 'unix', type: 1, path: '/tmp/.X11-unix/X50', uflags: 0, ownerUid: 999 },
      { id: 3, pids: [5], kind: 'unix', type: 1, path: '', uflags: 0 },
    ], expected)), []);
    assert.deepEqual(whats(socketViolations([
      { id: 1, pids: [5], kind: 'inet', type: 3 },
      { id: 2, pids: [6], kind: 'inet', type: 1, port: 22 },
      { id: 3, pids: [7], kind: 'unix', type: 1, path: '/run/dbus/system_bus_socket', uflags: 0 },
      { id: 4, pids: [8], kind: 'unix', type: 1, path: '/var/run/docker.sock', uflags: 1 },
      { id: 5, pids: [9], kind: 'unix', type: 1, path: '/tmp/x', uflags: 0, ownerUid: 0 },
    ], expected)), [
      '5 raw socket #1', '6 socket on a privileged port 22',
      '7 unix socket bound outside the desktop\'s folders /run/dbus/system_bus_socket',
      '8 unix socket with a peer outside the checkpoint flags 1 /var/run/docker.sock',
      '8 unix socket bound outside the desktop\'s folders /var/run/docker.sock', '9 unix socket file owned by another user /tmp/x uid 0',
    ]);
  });
  test('mounts: the host\'s own and newns\'s pass, anything else is refused', () => {
    const host: Mount[] = [
      { fstype: 'ext4', source: '/dev/vda', root: '/', mountpoint: '/', options: 'rw,discard' },
      { fstype: 'tmpfs', source: 'tmpfs', root: '/', mountpoint: '/dev/shm', options: 'rw,size=100k' },
      { fstype: 'devpts', source: 'devpts', root: '/', mountpoint: '/dev/pts', options: 'rw,mode=600,ptmxmode=000' },
    ];
    const ok: Mount[] = [
      { fstype: '', source: '/dev/vda', root: '/', mountpoint: '/', options: 'discard' },
      { fstype: 'tmpfs', source: 'tmpfs', root: '/', mountpoint: '/dev/shm', options: 'size=100k' },
      { fstype: 'devpts', source: 'devpts', root: '/', mountpoint: '/dev/pts', options: 'mode=600,ptmxmode=000,newinstance' },
      { fstype: 'proc', source: 'proc', root: '/', mountpoint: '/proc', options: '' },
      { fstype: 'devpts', source: 'devpts', root: '/', mountpoint: '/dev/pts', options: 'uid=999,gid=5,mode=620,ptmxmode=666,newinstance' },
      { fstype: 'devpts', source: 'devpts', root: '/ptmx', mountpoint: '/dev/ptmx', options: 'uid=999,gid=5,mode=620,ptmxmode=666,newinstance' },
    ];
    assert.deepEqual(mountViolations(ok, host, expected), []);
    assert.deepEqual(whats(mountViolations([
      { fstype: '', source: '/dev/vda', root: '/root', mountpoint: '/mnt', options: 'discard' },
      { fstype: 'tmpfs', source: 'tmpfs', root: '/', mountpoint: '/dev/shm', options: 'size=100k,uid=999' },
      { fstype: 'tmpfs', source: 'tmpfs', root: '/', mountpoint: '/etc', options: 'size=100k' },
      { fstype: 'devpts', source: 'devpts', root: '/', mountpoint: '/dev/pts', options: 'uid=0,newinstance' },
    ], host, expected)), [
      '- mount this machine does not have ? /dev/vda:/root on /mnt (discard)',
      '- mount this machine does not have tmpfs tmpfs:/ on /dev/shm (size=100k,uid=999)',
      '- mount this machine does not have tmpfs tmpfs:/ on /etc (size=100k)',
      '- mount this machine does not have devpts devpts:/ on /dev/pts (uid=0,newinstance)',
    ]);
  });
  test('tmpfs contents: no device node, no set-ID file, nothing outside', () => {
    assert.deepEqual(tarViolations([{ image: 't', name: './', type: '5', mode: 0o1777 }, { image: 't', name: './criu.kdat', type: '0', mode: 0o600 }]), []);
    assert.deepEqual(whats(tarViolations([
      { image: 't', name: './sda', type: '4', mode: 0o666 }, { image: 't', name: './sh', type: '0', mode: 0o4755 },
      { image: 't', name: '../etc/x', type: '0', mode: 0o644 },
    ])), ['- device node in a tmpfs image ./sda in t', '- set-user/group-ID file in a tmpfs image ./sh in t', '- tmpfs image member outside its mount ../etc/x in t']);
  });
  test('deleted files are recreated only as the desktop\'s plain files in its folders', () => {
    assert.deepEqual(ghostViolations([{ name: `${expected.home}/x`, uid: 999, gid: 995, mode: 0o100600 }], expected), []);
    assert.deepEqual(whats(ghostViolations([
      { name: '/etc/cron.d/x', uid: 0, gid: 0, mode: 0o104755 },
      { name: '/tmp/sda', uid: 999, gid: 995, mode: 0o060666 },
    ], expected)), [
      '- deleted file recreated set-user/group-ID /etc/cron.d/x', '- deleted file recreated for uid 0 gid 0 /etc/cron.d/x',
      '- deleted file recreated outside the desktop\'s folders /etc/cron.d/x', '- deleted file recreated as a special file /tmp/sda',
    ]);
  });
  test('scheduling, OOM score and the nice and real-time limits', () => {
    const own = new Map([[13, 0n], [14, 0n], [7, 1048576n]]);
    assert.deepEqual(schedViolations([
      { pid: 1, tid: 1, nice: 0, policy: 0, oomScoreAdj: 0, rlimits: [{ resource: 7, max: 1048576n }, { resource: 13, max: 0n }, { resource: 14, max: 0n }] },
      { pid: 1, tid: 2, nice: 19, policy: 5 }, { pid: 3, tid: 3, oomScoreAdj: 133 },
    ], own), []);
    assert.deepEqual(whats(schedViolations([
      { pid: 1, tid: 1, nice: -20, policy: 1, prio: 99, oomScoreAdj: -1000, rlimits: [{ resource: 13, max: 40n }, { resource: 14, max: 99n }] },
    ], own)), ['1 scheduling policy 1', '1 real-time priority 99', '1 nice -20', '1 OOM score adjustment -1000', '1 nice limit 40', '1 real-time priority limit 99']);
  });
  test('terminals: ptys only', () => {
    assert.deepEqual(ttyViolations([1, 1]), []);
    assert.deepEqual(whats(ttyViolations([2, 3])), ['- terminal that is not a pty console', '- terminal that is not a pty virtual console']);
  });
  test('image kinds', () => {
    const real = ['core-1.img', 'fdinfo-2.img', 'files.img', 'fs-1.img', 'ids-1.img', 'inventory.img', 'ipcns-var-10.img', 'mm-1.img',
      'mountpoints-12.img', 'pagemap-1.img', 'pages-1.img', 'pipes-data.img', 'pstree.img', 'seccomp.img', 'stats-dump',
      'timens-0.img', 'tmpfs-dev-23.tar.gz.img', 'tty-info.img', 'utsns-11.img', 'memfd.img', 'filelocks.img', 'ipcns-shm-10.img',
      'pagemap-shmem-3.img', 'stats-restore'];
    assert.deepEqual(imageNameViolations(real), []);
    assert.deepEqual(whats(imageNameViolations(['netns-9.img', 'cgroup.img', 'creds-1.img', 'apparmor.img', 'core-1.img.bak'])),
      ['- image of a kind a desktop never has netns-9.img', '- image of a kind a desktop never has cgroup.img',
        '- image of a kind a desktop never has creds-1.img', '- image of a kind a desktop never has apparmor.img',
        '- image of a kind a desktop never has core-1.img.bak']);
  });
});

describe('the test\'s protobuf editor', () => {
  test('changes one field, nested, and keeps every other byte', () => {
    const creds = Buffer.concat([encodeVarint(1 << 3), encodeVarint(999), encodeVarint(11 << 3), encodeVarint(0), encodeVarint(11 << 3), encodeVarint(0)]);
    const fixed = Buffer.from([(2 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]); // a fixed64 field the decoder cannot re-encode
    const thread = Buffer.concat([fixed, encodeVarint((10 << 3) | 2), encodeVarint(creds.length), creds]);
    const core = Buffer.concat([encodeVarint((5 << 3) | 2), encodeVarint(thread.length), thread]);
    assert.deepEqual(setField(core, [5, 10, 1], 999), core, 'the same value: the same bytes');
    const edited = setField(core, [5, 10, 11], 1 << 21);
    const c = decodeProto(decodeProto(decodeProto(edited).get(5)![0] as Uint8Array).get(10)![0] as Uint8Array);
    assert.deepEqual(c.get(11), [2097152n, 0n]);
    assert.deepEqual(c.get(1), [999n]);
    assert.deepEqual(Buffer.from(decodeProto(edited).get(5)![0] as Uint8Array).subarray(0, 9), fixed);
  });
});
