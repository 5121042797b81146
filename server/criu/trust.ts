// The trust check before every restore: reads what a checkpoint's images ask criu (root) to make, refuses what a desktop started here could never have.
//
// What the images of real desktops hold (the default xterm+xclock desktop, and xterm, firefox, writer, calculator,
// mousepad and xpdf each alone, dumped here through the engine, 2026-11-30; chromium and mpv alike since):
// - every task and thread: uid, euid, suid, fsuid the desktop user's, gid... its group, groups only that one, all
//   five capability sets empty (two 32-bit words of 0 each), securebits 0, no_new_privs 1, no LSM profile, no
//   seccomp filter (Firefox runs without its sandbox); SCHED_OTHER, nice 0, OOM score adjustment 0 (133 for
//   Firefox's content processes). Creds live in each thread's core image (thread_core.creds).
// - files opened for writing: the desktop's log (O_WRONLY|O_APPEND), /dev/null, xterm's /dev/ptmx and
//   /dev/pts/N, Firefox's profile in the desktop's home (.parentlock, *.sqlite and their -wal/-shm, O_RDWR),
//   LibreOffice's /tmp/lu*.tmp/lu*.tmp (O_RDWR, the desktop user's). Read only: binaries, libraries, locales,
//   fonts and caches under /usr and /var/cache, native/desktop.sh and native/apps/*, /proc/stat and
//   /proc/<pid>/net/dev of the desktop's own /proc, the home and / as working and root directories.
// - other fds: pipes, unix sockets (X's abstract and /tmp/.X11-unix ones, socketpairs), Xvnc's TCP listener on
//   5900+N and the viewers' connections, a UDP socket (icewm), netlink (Firefox), eventfd, eventpoll, inotify,
//   signalfd, timerfd, memfd (Firefox: 56), ttys.
// - mounts (mountpoints-N.img): a copy of the host's mount table (as newns made the namespace from it) plus
//   newns's own /proc, devpts on /dev/pts (newinstance, uid=desktop user) and its ptmx bound on /dev/ptmx; every
//   tmpfs among them is saved as tmpfs-dev-N.tar.gz.img (here: directories and one root-owned 0600 file).
// - image kinds: inventory, pstree, core/ids/mm/fs/pagemap/pages/fdinfo per task, files, mountpoints, utsns,
//   ipcns-var (and ipcns-shm, memfd, filelocks with Firefox), timens, seccomp, pipes-data, tty-info, stats-dump.
// - Chromium: its profile in the desktop's home open O_RDWR (History, Web Data, LevelDB LOG/LOCK/MANIFEST...),
//   ~25 memfds, SysV shm (XShm, as mpv's), and three files deleted while open (remap-fpath + ghost-file images, the
//   desktop user's, in its home): BrowserMetrics-*.pma with its 4 MiB of contents after the entry, two empty.
// What it costs (bench/analysis/trust.mts, 2 shared cores, load 7.5 and 10, 2 × 21 checks right after real
// dumps): median 5.4-5.6 ms (2.0-25.7) for the default desktop, whose criu restore takes 104-127 ms; 11.1-11.5 ms
// (5.2-39.6) for Firefox, 684-950 ms. A CPU profile: mostly decoding varints (as bigints) and the syscalls of
// ~170 core images and ~250 stats.
import 'server-only';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { FreezeframeError } from '../errors';
import { inside } from '../sandbox/layout';
import { decodeProto, imageEntries, type ProtoFields } from './images';
import { parentImageViolations } from '../storage/dedup';
import { ageNs, fingerprint, KeptReads, settledNs } from '../storage/keptReads';
import { bytes, int, int32, msg, raw, text, varints, zigzag } from './protoFields';
import {
  containedMountViolations, credsViolations, fileViolations, netnsViolations, ghostViolations, imageNameViolations, mountViolations, refusedFileTypes,
  schedViolations, socketViolations, tarViolations, ttyViolations, type Creds, type Expected, type Ghost, type HostFile, type Mount, type RegFile,
  type Socket, type TarMember, type TaskCreds, type TaskSched, type Violation,
} from './trustRules';

export type { Expected, Violation } from './trustRules';

/** task_core_entry.task_state of a zombie (compel TASK_DEAD). */
const taskDead = 2;
const entries = (dir: string, name: string): ProtoFields[] => imageEntries(readFileSync(path.join(dir, name))).map(decodeProto);

/**
 * The first entry of an image, from its first 4 KiB: a ghost-file image is its GhostFileEntry (a few bytes)
 * followed by the deleted file's raw contents (Chromium's BrowserMetrics: 4 MiB), which are no entries at all.
 */
function firstEntry(dir: string, name: string): ProtoFields | undefined {
  const fd = openSync(path.join(dir, name), 'r');
  try {
    const head = Buffer.alloc(4096);
    const [entry] = imageEntries(head.subarray(0, readSync(fd, head, 0, head.length, 0)), 1);
    return entry && decodeProto(entry);
  } finally {
    closeSync(fd);
  }
}

function decodeCreds(c: ProtoFields | undefined): Creds | undefined {
  if (!c) return undefined;
  return {
    uid: varints(c, 1), gid: varints(c, 2), euid: varints(c, 3), egid: varints(c, 4),
    suid: varints(c, 5), sgid: varints(c, 6), fsuid: varints(c, 7), fsgid: varints(c, 8),
    capInh: varints(c, 9), capPrm: varints(c, 10), capEff: varints(c, 11), capBnd: varints(c, 12),
    secbits: varints(c, 13), groups: varints(c, 14), lsmProfile: text(c, 15), noNewPrivs: varints(c, 18), capAmb: varints(c, 19),
  };
}

/** mnt.proto's fstype enum; AUTO and UNSUPPORTED name theirs in fsname (or not at all: the root mount). */
const fstypes: Record<number, string> = {
  1: 'proc', 2: 'sysfs', 3: 'devtmpfs', 4: 'binfmt_misc', 5: 'tmpfs', 6: 'devpts', 7: 'simfs', 8: 'pstore', 9: 'securityfs',
  10: 'fusectl', 11: 'debugfs', 12: 'cgroup', 13: 'aufs', 14: 'mqueue', 15: 'fuse', 17: 'overlay', 18: 'autofs', 19: 'tracefs', 23: 'cgroup2',
};

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mounts as a mountinfo file lists them (/proc/PID/mountinfo). */
export function parseMountinfo(text: string): Mount[] {
  const lines = text.split('\n').filter(Boolean);
  return lines.map((line) => {
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const [fstype, source, options] = right.split(' ');
    return { root: unescape(f[3]), mountpoint: unescape(f[4]), fstype, source: unescape(source), options: options ?? '' };
  });
}

/** The host's mounts, as newns copied them into each desktop's namespace. */
const hostMounts = (): Mount[] => parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

/** The members of a gzip'd tar: names, types and modes from the 512-byte ustar headers. */
function tarMembers(image: string, gz: Buffer): TarMember[] {
  const tar = gunzipSync(gz);
  const out: TarMember[] = [];
  let longName: string | undefined;
  for (let pos = 0; pos + 512 <= tar.length;) {
    const header = tar.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const field = (at: number, len: number) => header.subarray(at, at + len).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156]);
    const body = tar.subarray(pos + 512, pos + 512 + size);
    pos += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = body.toString('latin1').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'x' || type === 'g' || type === 'K') continue;
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    out.push({
      image, name, type: type === '\0' ? '0' : type, mode: parseInt(field(100, 8).trim() || '0', 8),
      uid: parseInt(field(108, 8).trim() || '0', 8), gid: parseInt(field(116, 8).trim() || '0', 8),
    });
  }
  return out;
}

/** This server's hard rlimits by resource number (/proc/self/limits lists them in RLIMIT_* order). */
function ownHardLimits(): Map<number, bigint> {
  const rows = readFileSync('/proc/self/limits', 'utf8').split('\n').slice(1).filter(Boolean);
  return new Map(rows.map((row, resource) => {
    const hard = row.slice(26).trim().split(/\s+/)[1];
    return [resource, hard === 'unlimited' ? 2n ** 64n - 1n : BigInt(hard)];
  }));
}

function statOrNull(p: string): HostFile | null {
  try {
    const s = statSync(p, { throwIfNoEntry: false });
    return s ? { uid: s.uid, gid: s.gid, mode: s.mode } : null;
  } catch {
    return null; // not a directory on the way, a loop: criu cannot open it either
  }
}

/**
 * A file a contained desktop's images name, as it will be where criu opens it: under the home, in this host's
 * folder for it; in its own /tmp, as the tmpfs image holds it (a link there counts as a file of root's: criu would
 * follow it); anywhere else, the host's own (the desktop sees the host's /usr, /etc, /dev/shm).
 */
function containedFile(name: string, { hostHome, appDir }: { hostHome: string; appDir: string }, tars: TarMember[]): HostFile | null {
  if (name === inside.app || name.startsWith(`${inside.app}/`)) return statOrNull(appDir + name.slice(inside.app.length));
  if (name === inside.home || name.startsWith(`${inside.home}/`)) return statOrNull(hostHome + name.slice(inside.home.length));
  if (name === '/tmp' || name.startsWith('/tmp/')) {
    const relative = name === '/tmp' ? '.' : `./${name.slice('/tmp/'.length)}`;
    const find = (rel: string) => tars.find((m) => m.name.replace(/\/$/, '') === rel || m.name.replace(/\/$/, '') === rel.slice(2));
    // criu opens the path as root, following links: a link on the way (a folder of the path, or the file itself)
    // could lead anywhere, so such a file counts as root's (Chromium keeps a SingletonCookie link there, never
    // opened).
    const parts = relative.split('/');
    for (let i = 2; i <= parts.length; i++) {
      const m = find(parts.slice(0, i).join('/'));
      if (m && (m.type === '1' || m.type === '2')) return { uid: 0, gid: 0, mode: 0o100000 };
    }
    const member = find(relative);
    if (!member) return null;
    const type = member.type === '5' ? 0o040000 : member.type === '0' || member.type === '7' ? 0o100000 : 0;
    return type ? { uid: member.uid ?? 0, gid: member.gid ?? 0, mode: type | (member.mode & 0o7777) } : { uid: 0, gid: 0, mode: 0o100000 };
  }
  return statOrNull(name);
}

/**
 * images/parent, the only entry that is no image (server/storage/dedup.ts): a link this installation made to a sibling
 * checkpoint's whole images, from which criu reads the pages this checkpoint shares. An archive never brings one
 * (archive.ts takes plain files only); anything else by that name is refused.
 */
function parentViolations(dir: string): Violation[] {
  let target: string;
  try {
    target = readlinkSync(path.join(dir, 'parent'));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? [] : [{ what: 'images/parent that is no link to a checkpoint', value: 'parent' }];
  }
  if (!/^\.\.\/\.\.\/c-[0-9a-f]{8}\/images$/.test(target)) return [{ what: 'images/parent that is no link to a checkpoint', value: target }];
  // One level: the base's own images are whole (no parent of their own), and made here like these.
  const base = path.resolve(dir, target);
  if (existsSync(path.join(base, 'parent'))) return [{ what: 'images/parent whose images have a parent too', value: target }];
  // What criu reads there: the pagemaps and pages files of the processes with pages in it.
  return parentImageViolations(dir);
}

/** What the trust check reads out of a checkpoint's images: a pure function of their bytes, judged at each restore. */
interface DecodedImages {
  names: string[];
  tasks: { pid: number; threads: number[] }[];
  zombies: number[];
  cores: (TaskCreds & { sched: TaskSched })[];
  netns: (string | undefined)[];
  /** Found while decoding: refused file types, remaps of no file. */
  found: Violation[];
  regs: RegFile[];
  sockets: Socket[];
  /** Ghost files with their owner as the images say; link remaps, whose files criu makes as root. */
  ghosts: Ghost[];
  linkRemaps: string[];
  mounts: Mount[];
  tars: TarMember[];
  ttys: number[];
}

function decodeImages(dir: string, names: string[]): DecodedImages {
  const has = new Set(names);
  const listed = entries(dir, 'pstree.img').map((p) => {
    const pid = int(p, 1);
    const threads = varints(p, 5);
    return { pid, threads: threads.length ? threads : [pid] };
  });
  // A zombie (a child exited, not yet reaped: Firefox's glxtest seconds after its start) is dumped as a core image
  // with its task core alone, state TASK_DEAD (cr-dump.c dump_one_zombie): no thread core, no credentials, no ids,
  // and pstree.img may list a thread id of no image. criu restores it by exiting at once with its exit code
  // (cr-restore.c restore_one_zombie): nothing of it runs, opens or maps anything. Such a core (and only one that
  // carries nothing else) is no task to judge; one with a thread core is judged as a live task.
  const leaders = new Map(listed.map(({ pid }) => [pid, entries(dir, `core-${pid}.img`)[0]] as const));
  const isZombie = (pid: number) => {
    const core = leaders.get(pid);
    return int(msg(core, 3), 1) === taskDead && !msg(core, 5) && !msg(core, 4) && !has.has(`ids-${pid}.img`) && !has.has(`mm-${pid}.img`);
  };
  const zombies = listed.filter(({ pid }) => isZombie(pid)).map(({ pid }) => pid);
  const tasks = listed.filter(({ pid }) => !zombies.includes(pid));
  const cores = tasks.flatMap(({ pid, threads }) => threads.map((tid) => {
    const [core] = tid === pid ? [leaders.get(pid)] : entries(dir, `core-${tid}.img`);
    const thread = msg(core, 5);
    const task = tid === pid ? msg(core, 3) : undefined;
    const sched: TaskSched = {
      pid, tid, nice: zigzag(raw(thread, 3)), policy: int(thread, 4), prio: int(thread, 5),
      oomScoreAdj: int32(raw(task, 14)),
      rlimits: (msg(task, 8)?.get(1) ?? []).map((r, resource) => ({ resource, max: raw(decodeProto(r as Uint8Array), 2) ?? 0n })),
    };
    return { pid, tid, creds: decodeCreds(msg(thread, 10)), ids: msg(core, 4), sched };
  }));
  const files = entries(dir, 'files.img');
  const mounts = names.filter((n) => /^mountpoints-\d+\.img$/.test(n)).flatMap((n) => entries(dir, n));
  const tars = names.filter((n) => /^tmpfs-dev-\d+\.tar\.gz\.img$/.test(n)).flatMap((n) => tarMembers(n, readFileSync(path.join(dir, n))));
  const remaps = has.has('remap-fpath.img') ? entries(dir, 'remap-fpath.img') : [];
  const ttys = has.has('tty-info.img') ? entries(dir, 'tty-info.img') : [];
  const found: Violation[] = [];

  // Which tasks hold which file: fdinfo-<files_id>.img, shared by tasks that share their fd table.
  const fdTables = new Map<number, number[]>();
  for (const { pid } of tasks) {
    // ids-<pid>.img; older images keep the ids in the leader's core image.
    const ids = has.has(`ids-${pid}.img`) ? entries(dir, `ids-${pid}.img`)[0] : cores.find((c) => c.tid === pid)?.ids;
    const filesId = int(ids, 2);
    if (filesId === undefined) throw new Error(`task ${pid} has no files id`);
    fdTables.set(filesId, [...(fdTables.get(filesId) ?? []), pid]);
  }
  const pidsOf = new Map<number, number[]>();
  for (const [filesId, pids] of fdTables) {
    for (const fd of entries(dir, `fdinfo-${filesId}.img`)) {
      const id = int(fd, 1);
      pidsOf.set(id, [...(pidsOf.get(id) ?? []), ...pids]);
    }
  }

  const regs: RegFile[] = [];
  const sockets: Socket[] = [];
  const byId = new Map<number, RegFile>();
  for (const f of files) {
    const id = int(f, 2);
    const type = int(f, 1);
    const pids = pidsOf.get(id) ?? [];
    if (refusedFileTypes[type]) found.push({ pid: pids[0], what: refusedFileTypes[type], value: `#${id}` });
    const reg = msg(f, 3);
    if (reg) {
      const file: RegFile = { id, name: text(reg, 6) ?? '', flags: int(reg, 2) ?? 0, mode: int(reg, 10), pids };
      regs.push(file);
      byId.set(id, file);
    }
    const isk = msg(f, 4);
    if (isk) sockets.push({ id, pids, kind: 'inet', type: int(isk, 4), port: int(isk, 7) });
    const usk = msg(f, 16);
    if (usk) {
      const name = bytes(usk, 11);
      const bound = name?.length && name[0] !== 0 ? Buffer.from(name).toString('utf8').replace(/\0+$/, '') : '';
      const dirName = text(usk, 14);
      sockets.push({
        id, pids, kind: 'unix', type: int(usk, 3), uflags: int(usk, 6),
        path: bound && dirName && !path.isAbsolute(bound) ? path.join(dirName, bound) : bound,
        ownerUid: int(msg(usk, 13), 2),
      });
    }
  }

  const ghosts: Ghost[] = [];
  const linkRemaps: string[] = [];
  for (const r of remaps) {
    const orig = byId.get(int(r, 1));
    const remapId = int(r, 2);
    // remap_type: LINKED 0, GHOST 1, PROCFS 2 (a dead task's /proc entry); older images flag ghosts in the id.
    const type = int(r, 3) ?? ((remapId & 0x80000000) ? 1 : 0);
    if (!orig) {
      found.push({ what: 'remapped file not in files.img', value: `#${int(r, 1)}` });
      continue;
    }
    if (type === 1) {
      const g = firstEntry(dir, `ghost-file-${(remapId & 0x7fffffff).toString(16)}.img`);
      ghosts.push({ name: orig.name, uid: int(g, 1), gid: int(g, 2), mode: int(g, 3) });
    } else if (type === 0) {
      // criu links the dump-time link_remap file back to the file's path, as root: both in the desktop's folders.
      linkRemaps.push(orig.name, byId.get(remapId)?.name ?? `#${remapId}`);
    }
  }

  return {
    names, tasks, zombies, cores: cores.map(({ ids: _ids, ...core }) => core), found, regs, sockets, ghosts, linkRemaps, tars,
    netns: names.filter((n) => /^netns-\d+\.img$/.test(n)).flatMap((n) => entries(dir, n)).map((e) => text(e, 8)),
    mounts: mounts.map((m) => ({
      fstype: fstypes[int(m, 1)] ?? text(m, 14) ?? '', mountpoint: text(m, 7) ?? '', root: text(m, 6) ?? '',
      source: text(m, 8) ?? '', options: text(m, 9) ?? '', extKey: text(m, 18),
    })),
    ttys: ttys.map((t) => int(t, 2)),
  };
}

/**
 * Decoded images by folder, each with the fingerprint of the files it was decoded from: every file's inode, size,
 * modification and change time. A file rewritten, replaced, added or removed changes it (its change time cannot be
 * set back, but by root), and the images are decoded again. What is judged against the host (the files the images
 * name, its mounts, the desktop's ids, this process's limits) is judged at every restore, never kept.
 *
 * Why: decoding is most of the check (a CPU profile: varints, ~170 core images for Firefox), on every restore's
 * critical path; the server decodes a new checkpoint's images in its follow-up, after the reply (warmTrust).
 */
const decodedCache = new KeptReads<DecodedImages>(64);
/** Decodes done and decodes spared, for the tests. */
export const trustCacheCounts = { decoded: 0, kept: 0 };

function decodedOf(dir: string, names: string[], at = fingerprint(dir, names)): DecodedImages {
  const { value, kept } = decodedCache.get(dir, at, () => decodeImages(dir, names));
  trustCacheCounts[kept ? 'kept' : 'decoded']++;
  return value;
}

const imageNames = (dir: string) => readdirSync(dir).filter((n) => n !== 'parent');

/**
 * Decodes a checkpoint's images now, off a restore's path, so that its trust check only judges; errors wait for it.
 * Images written within the settling time (just dumped) are waited for first: else they would be decoded, not kept.
 */
export async function warmTrust(dir: string): Promise<void> {
  try {
    const names = imageNames(dir);
    const at = fingerprint(dir, names);
    const age = ageNs(at.newestNs);
    if (age > settledNs) decodedOf(dir, names, at);
    else {
      await delay(Number(settledNs - age) / 1e6 + 1);
      decodedOf(dir, imageNames(dir));
    }
  } catch {}
}

/**
 * The two halves of the check: the images by themselves and against what their desktop may be ('images'), and the
 * host's files, mounts and limits they name, as the host has them now ('host'). Both, but for a lazy restore: its
 * lazy-pages daemon reads the images and nothing else, so it starts once they are judged, and its start (8-13 ms
 * for Firefox, traced) runs beside the host's half (operations/restore.ts). criu restore runs only after both.
 */
export type TrustPart = 'images' | 'host';
const bothParts: readonly TrustPart[] = ['images', 'host'];

/**
 * Every violation of the checkpoint at `dir` against what its desktop may be (server/criu/trustRules.ts).
 * Synchronous on purpose: the images are small files just written or read (page cache), and each read or stat
 * through libuv's thread pool costs more than the work itself. Firefox's checkpoint (168 threads: 168 core
 * images, 275 file paths to stat), load 4 on 2 cores: core images 22-38 ms read in parallel with promises,
 * 1.6-9 ms read in a loop; 275 stats 3-53 ms with promises, 0.9-32 ms in a loop.
 */
export function trustViolations(dir: string, expected: Expected, parts: readonly TrustPart[] = bothParts): Violation[] {
  const images = parts.includes('images');
  const host = parts.includes('host');
  const linked = images ? parentViolations(dir) : [];
  const { names, tasks, zombies, cores, netns, found, regs, sockets, ghosts, linkRemaps, mounts, tars, ttys } = decodedOf(dir, imageNames(dir));
  const contained = expected.contained;
  const violations: Violation[] = images ? [
    ...linked, ...imageNameViolations(names, { contained: !!contained }), ...credsViolations(cores satisfies TaskCreds[], expected),
    ...netnsViolations(netns), ...found,
  ] : [];

  const treePids = new Set([...tasks.flatMap((t) => t.threads), ...zombies]);
  const toStat = host ? [...new Set([...regs.map((r) => r.name), ...sockets.flatMap((s) => (s.path ? [s.path] : []))])] : [];
  const statted = new Map(toStat.map((p) => [p, contained ? containedFile(p, contained, tars) : statOrNull(p)] as const));

  violations.push(
    ...(host ? fileViolations(regs, expected, statted, treePids) : []),
    ...(images ? socketViolations(sockets, expected) : []),
    ...(host ? (contained ? containedMountViolations : mountViolations)(mounts, [...hostMounts(), ...(expected.launchMounts ?? [])], expected) : []),
    ...(images ? [
      ...tarViolations(tars),
      ...ghostViolations([...ghosts, ...linkRemaps.map((name) => ({ name, uid: expected.uid, gid: expected.gid, mode: 0o100600 }))], expected),
      ...ttyViolations(ttys),
    ] : []),
    ...(host ? schedViolations(cores.map((c) => c.sched), ownHardLimits()) : []),
  );
  return violations;
}

const describe = (v: Violation) => `${v.pid !== undefined ? `task ${v.pid}: ` : ''}${v.what} ${v.value}`;

/**
 * Throws `untrusted_images` unless the checkpoint's images are what a desktop of `expected` may be; images that
 * cannot be read or decoded are refused too (fail closed). Measured on every restore's critical path: see README.
 */
export async function assertTrustedImages(dir: string, checkpointId: string, expected: Expected, parts: readonly TrustPart[] = bothParts): Promise<void> {
  const hint = 'criu restores as root what the images say: restore only checkpoints made here or by someone you trust, unchanged since.';
  let violations: Violation[];
  try {
    violations = trustViolations(dir, expected, parts);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !statOrNull(path.join(dir, 'inventory.img'))) {
      throw new FreezeframeError('images_missing', `checkpoint ${checkpointId} has no images at ${dir}`);
    }
    const message = `checkpoint ${checkpointId} was not restored: its images cannot be checked (${(error as Error).message})`;
    throw new FreezeframeError('untrusted_images', message, { error: { code: 'untrusted_images', message, hint } }, { cause: error });
  }
  if (!violations.length) return;
  const shown = violations.slice(0, 3).map(describe).join('; ');
  const more = violations.length > 3 ? ` and ${violations.length - 3} more` : '';
  const message = `checkpoint ${checkpointId} was not restored: its images ask for more than its desktop may have: ${shown}${more}`;
  throw new FreezeframeError('untrusted_images', message, {
    error: { code: 'untrusted_images', message, errors: violations.slice(0, 10).map(describe), hint },
    violations: violations.slice(0, 50),
  });
}
