// The trust rules a checkpoint's images must pass before criu (root) restores them: decoded entries in, violations out.
//
// criu restores as root and the images decide what every task gets: its credentials, the files criu opens for it
// (as root, before the task drops to the image's credentials), the mounts of its namespace, the tmpfs contents
// criu unpacks with tar (as root). So an image may ask only for what a desktop started here has. Pure functions
// over what server/criu/trust.ts read, so each rule is unit-tested without criu.
import path from 'node:path';

export interface Violation {
  /** The task (or thread) concerned; undefined for what belongs to the checkpoint as a whole (a mount, a file). */
  pid?: number;
  what: string;
  value: string;
}

export interface Creds {
  uid: number[]; gid: number[]; euid: number[]; egid: number[]; suid: number[]; sgid: number[]; fsuid: number[]; fsgid: number[];
  groups: number[];
  capInh: number[]; capPrm: number[]; capEff: number[]; capBnd: number[]; capAmb: number[];
  secbits: number[];
  noNewPrivs: number[];
  lsmProfile?: string;
}

export interface TaskCreds {
  pid: number;
  tid: number;
  /** undefined: the thread's core image carries no credentials (criu would then take them from a legacy image). */
  creds?: Creds;
}

/** What the restored desktop may be: its user and its own folders. */
export interface Expected {
  uid: number;
  gid: number;
  /** desktops/<id>/home under the state folder: the desktop's HOME, its own. */
  home: string;
  /** desktops/<id>/desktop.log: stdout and stderr of the whole tree (opened by newns, root's). */
  log: string;
  /**
   * The mounts the desktop's tree had when this server launched it (server/desktops/launchMounts.ts): a checkpoint
   * made here may name those even when the host has unmounted them since (a container's overlay, a USB stick, a
   * tmpfs of a test). An imported desktop has none: its images may name only mounts this machine has now.
   */
  launchMounts?: Mount[];
  /**
   * A self-contained desktop (server/desktops/rooms.ts): home and log are the inside paths, its files under the
   * home are where this host keeps them (hostHome), its /tmp is its own (what the images' tmpfs holds), and its
   * mounts must be exactly the set newns builds.
   */
  contained?: {
    hostHome: string;
    /** Host folders no mount of the desktop may come from (the state folder: every desktop's files and records). */
    hidden: string[];
    /** This installation's folder (config.rootDir), which newns binds read-only at /run/desktop/app. */
    appDir: string;
  };
}

export function credsViolations(tasks: TaskCreds[], expected: Expected): Violation[] {
  const out: Violation[] = [];
  for (const { pid, tid, creds } of tasks) {
    const who = tid === pid ? pid : tid;
    const add = (what: string, value: unknown) => out.push({ pid: who, what, value: String(value) });
    if (!creds) {
      add('credentials', 'none in its core image');
      continue;
    }
    for (const key of ['uid', 'euid', 'suid', 'fsuid'] as const) {
      if (creds[key].length !== 1 || creds[key][0] !== expected.uid) add(key, creds[key].join(',') || 'none');
    }
    for (const key of ['gid', 'egid', 'sgid', 'fsgid'] as const) {
      if (creds[key].length !== 1 || creds[key][0] !== expected.gid) add(key, creds[key].join(',') || 'none');
    }
    if (creds.groups.some((g) => g !== expected.gid)) add('supplementary groups', creds.groups.join(','));
    const sets = { inheritable: creds.capInh, permitted: creds.capPrm, effective: creds.capEff, bounding: creds.capBnd, ambient: creds.capAmb };
    for (const [name, words] of Object.entries(sets)) {
      if (words.some((w) => w !== 0)) add(`${name} capabilities`, capabilityList(words));
    }
    if (creds.secbits.some((b) => b !== 0)) add('securebits', creds.secbits.join(','));
    // newns sets no_new_privs: no set-user-ID program gives a restored task anything back either.
    if (creds.noNewPrivs.length !== 1 || creds.noNewPrivs[0] !== 1) add('no_new_privs', creds.noNewPrivs.join(',') || 'unset');
    if (creds.lsmProfile) add('LSM profile', creds.lsmProfile);
  }
  return out;
}

/** Capability numbers set in 32-bit words, as "cap 21, cap 39" (CAP_SYS_ADMIN is 21). */
function capabilityList(words: number[]): string {
  const caps: string[] = [];
  words.forEach((w, i) => {
    for (let bit = 0; bit < 32; bit++) if ((w >>> bit) & 1) caps.push(`cap ${i * 32 + bit}`);
  });
  return caps.join(', ');
}

/** Devices a desktop opens (Xvnc, shells, xterm's pty); nothing else under /dev is ever handed to a task. */
const allowedDevices = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx']);
const isAllowedDevice = (p: string) => allowedDevices.has(p) || /^\/dev\/pts\/(\d+|ptmx)$/.test(p);

const O_WRONLY = 0o1, O_RDWR = 0o2, O_CREAT = 0o100, O_TRUNC = 0o1000, O_APPEND = 0o2000;
export const opensForWriting = (flags: number) => (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) !== 0;

const S_IFMT = 0o170000, S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFREG = 0o100000, S_IFDIR = 0o040000;
const isDevice = (mode: number) => (mode & S_IFMT) === S_IFCHR || (mode & S_IFMT) === S_IFBLK;

/** A file as this machine has it now (stat, following links as criu's open does), or null if there is none. */
export interface HostFile { uid: number; gid: number; mode: number }

export interface RegFile {
  id: number;
  name: string;
  flags: number;
  /** The mode criu recorded at the dump, if it did. */
  mode?: number;
  /** The tasks that have it open as an fd (a mapping, an exe or a working directory has none). */
  pids: number[];
}

const under = (p: string, dir: string) => p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
/** Shared folders where a desktop's programs make files of their own (LibreOffice: /tmp/lu*.tmp/). */
const sharedScratch = ['/tmp', '/dev/shm'];

function readableBy(file: HostFile, expected: Expected): boolean {
  if (file.uid === expected.uid) return (file.mode & 0o400) !== 0;
  if (file.gid === expected.gid) return (file.mode & 0o040) !== 0;
  return (file.mode & 0o004) !== 0;
}

/**
 * criu opens every file of the images as root, with the flags the image says (O_CREAT and O_TRUNC included) and
 * following symbolic links. Written: only the desktop's log, and files of the desktop user's own (by what the path
 * names now: a link planted there since the dump to a file of root's is refused) in its home, /tmp or /dev/shm.
 * Read: only what the desktop user could open itself (no /etc/shadow, no disk); devices from the short list only.
 * `host` holds a stat of every path named (null: no such file; criu then fails by itself, unless told to create it).
 */
export function fileViolations(files: RegFile[], expected: Expected, host: Map<string, HostFile | null>, treePids: Set<number>): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const add = (what: string) => out.push({ pid: file.pids[0], what, value: file.name });
    const name = file.name;
    if (!path.isAbsolute(name) || (name !== '/' && path.posix.normalize(name) !== name.replace(/\/+$/, ''))) {
      add('file by a path that is not plain');
      continue;
    }
    if (name === expected.log || isAllowedDevice(name)) continue;
    const writing = opensForWriting(file.flags);
    // The desktop's own /proc: paths of its own tasks (icewm reads /proc/<pid>/net/dev).
    const procOfTree = /^\/proc\/(\d+)(\/|$)/.exec(name);
    if (procOfTree && treePids.has(Number(procOfTree[1]))) {
      if (writing) add('file opened for writing');
      continue;
    }
    if (file.mode !== undefined && isDevice(file.mode)) {
      add('device');
      continue;
    }
    const onHost = host.get(name);
    if (writing) {
      const inOwnFolder = name === expected.home || under(name, expected.home) || sharedScratch.some((dir) => under(name, dir));
      if (!inOwnFolder) add('file opened for writing');
      else if (onHost ? onHost.uid !== expected.uid || (onHost.mode & S_IFMT) !== S_IFREG : (file.flags & O_CREAT) !== 0) {
        add('file opened for writing that is not the desktop user\'s own');
      }
      continue;
    }
    if (!onHost) continue;
    if (isDevice(onHost.mode)) add('device');
    else if (!readableBy(onHost, expected)) add('file the desktop user cannot read');
  }
  return out;
}

/** fd types a desktop never has, each a privilege if criu (root) makes it: raw packets, tun, another namespace. */
export const refusedFileTypes: Record<number, string> = {
  10: 'packet socket', 12: 'fanotify', 14: 'namespace file', 15: 'tun device', 16: 'external file', 19: 'BPF map',
};

export interface Socket {
  id: number;
  pids: number[];
  kind: 'inet' | 'unix';
  /** inet: SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3. */
  type: number;
  port?: number;
  /** unix: the path it is bound to ('' when unnamed or abstract), criu's USK_* flags, the owner of its file. */
  path?: string;
  uflags?: number;
  ownerUid?: number;
}

export function socketViolations(sockets: Socket[], expected: Expected): Violation[] {
  const out: Violation[] = [];
  for (const s of sockets) {
    const add = (what: string, value: string) => out.push({ pid: s.pids[0], what, value });
    if (s.kind === 'inet') {
      if (s.type === 3) add('raw socket', `#${s.id}`);
      // criu binds as root: a port below 1024 would be one the desktop user cannot bind.
      if (s.port !== undefined && s.port > 0 && s.port < 1024) add('socket on a privileged port', String(s.port));
      continue;
    }
    // EXTERN, SERVICE, CALLBACK, INHERIT: a peer outside the images, which criu would connect to as root.
    if (s.uflags) add('unix socket with a peer outside the checkpoint', `flags ${s.uflags.toString(16)} ${s.path ?? ''}`);
    if (s.path) {
      const inOwnPlace = under(s.path, expected.home) || sharedScratch.some((dir) => under(s.path!, dir));
      if (!inOwnPlace) add('unix socket bound outside the desktop\'s folders', s.path);
      else if (s.ownerUid !== undefined && s.ownerUid !== expected.uid) add('unix socket file owned by another user', `${s.path} uid ${s.ownerUid}`);
    }
  }
  return out;
}

export interface Mount {
  fstype: string;
  mountpoint: string;
  root: string;
  source: string;
  options: string;
  /** criu's key of an external mount (`--external`): bound at restore from a host path, not mounted from the image. */
  extKey?: string;
}

// criu adds newinstance to every devpts it dumps; rw and ro are per mount, not the filesystem's.
const optionSet = (options: string) => options.split(',').filter((o) => o && o !== 'rw' && o !== 'ro' && o !== 'newinstance').sort().join(',');

/**
 * newns gives the desktop a copy of the host's mount namespace, plus a fresh /proc, a private devpts on /dev/pts
 * (its ptys the desktop user's) and that devpts's ptmx bound on /dev/ptmx. criu mounts what the image describes,
 * as root: any other mount (a host disk, a folder bound elsewhere, a filesystem whose options hand files to the
 * desktop user) is refused; so is a host mount whose options differ from the host's own.
 */
export function mountViolations(mounts: Mount[], hostMounts: Mount[], expected: Expected): Violation[] {
  const out: Violation[] = [];
  for (const m of mounts) {
    const opts = m.options.split(',');
    const ownDevpts = m.fstype === 'devpts' && opts.includes('newinstance') && opts.includes(`uid=${expected.uid}`) && m.source === 'devpts' &&
      ((m.mountpoint === '/dev/pts' && m.root === '/') || (m.mountpoint === '/dev/ptmx' && m.root === '/ptmx'));
    const ownProc = m.fstype === 'proc' && m.mountpoint === '/proc' && m.root === '/' && m.source === 'proc';
    if (ownDevpts || ownProc) continue;
    const fromHost = hostMounts.some((h) => h.mountpoint === m.mountpoint && h.root === m.root && h.source === m.source &&
      (m.fstype === '' || h.fstype === m.fstype) && optionSet(h.options) === optionSet(m.options));
    if (!fromHost) out.push({ what: 'mount this machine does not have', value: `${m.fstype || '?'} ${m.source}:${m.root} on ${m.mountpoint} (${m.options})` });
  }
  return out;
}

export interface TarMember { image: string; name: string; type: string; mode: number; uid?: number; gid?: number }

/** criu unpacks a tmpfs's contents with tar, as root: no device node, no set-user/group-ID file, nothing outside. */
export function tarViolations(members: TarMember[]): Violation[] {
  const out: Violation[] = [];
  for (const m of members) {
    const add = (what: string) => out.push({ what, value: `${m.name} in ${m.image}` });
    if (m.type === '3' || m.type === '4') add('device node in a tmpfs image');
    else if ((m.type === '0' || m.type === '\0' || m.type === '7') && (m.mode & 0o6000)) add('set-user/group-ID file in a tmpfs image');
    if (m.name.startsWith('/') || m.name.split('/').includes('..')) add('tmpfs image member outside its mount');
  }
  return out;
}

/**
 * The image kinds criu writes for a desktop. Anything else (a network namespace with its routes and iptables,
 * cgroups, an AppArmor profile, binfmt_misc, BPF maps, a user namespace, legacy per-task images) is a kind of
 * state a desktop started here never has, and refused unread.
 */
const knownImages = new RegExp('^(?:' + [
  'inventory', 'pstree', 'files', 'core-\\d+', 'ids-\\d+', 'mm-\\d+', 'fs-\\d+', 'fdinfo-\\d+', 'pagemap-\\d+', 'pages-\\d+',
  'pagemap-shmem-\\d+', 'utsns-\\d+', 'ipcns-(?:var|shm|msg|sem)-\\d+', 'timens-\\d+', 'pidns-\\d+', 'mountpoints-\\d+',
  'tmpfs-dev-\\d+\\.tar\\.gz', 'pipes-data', 'fifo-data', 'sk-queues', 'tty-info', 'tty-data', 'tcp-stream-[0-9a-f]+',
  'filelocks', 'seccomp', 'memfd', 'remap-fpath', 'ghost-file-[0-9a-f]+', 'irmap-cache', 'cpuinfo',
].join('|') + ')\\.img$|^stats-(?:dump|restore)$');

export function imageNameViolations(names: string[], { contained = false } = {}): Violation[] {
  // A contained desktop's kept network namespace is named in a netns image (its key only: see netnsViolations).
  const known = (n: string) => knownImages.test(n) || (contained && /^netns-\d+\.img$/.test(n));
  return names.filter((n) => !known(n)).map((n) => ({ what: 'image of a kind a desktop never has', value: n }));
}

/**
 * A contained desktop's network namespace is the one the server keeps and hands criu (inherit-fd): the image must
 * name it by its key, or criu would make one of what the image describes (links, addresses, routes), as root.
 */
export function netnsViolations(extKeys: (string | undefined)[]): Violation[] {
  return extKeys.filter((k) => k !== containedKeys.net).map((k) => ({ what: 'network namespace that is not the desktop\'s own', value: k ?? 'described in the images' }));
}

/** criu's keys of a contained desktop's external namespace and mounts (server/sandbox/layout.ts's externalKeys). */
export const containedKeys = {
  net: 'desktop-net',
  mounts: { 'desktop-home': '/home/desktop', 'desktop-run': '/run/desktop', 'desktop-passwd': '/etc/passwd', 'desktop-group': '/etc/group' } as Record<string, string>,
  /** What `--external mnt[]` marks a host mount with: criu binds the host's path (the entry's source) again. */
  host: 'CRIU:AUTOGENERATED',
};

/**
 * The mounts newns builds for a contained desktop, and nothing else: its own /proc and devpts (as for any desktop), a
 * fresh tmpfs on /tmp with no option (criu unpacks its content: see tarViolations), the home, run folder and (own
 * uid) passwd and group bound at their fixed paths from host paths the server chooses at restore, and the host's
 * own mounts, bound again from the same path: each must be a mount of this host now, outside the hidden folders
 * (the state folder, with the other desktops' homes and records). The root is criu's --root.
 */
export function containedMountViolations(mounts: Mount[], hostMounts: Mount[], expected: Expected): Violation[] {
  const out: Violation[] = [];
  const clean = (p: string) => p.replace(/^\/+/, '/');
  for (const m of mounts) {
    const opts = m.options.split(',');
    const bad = () => out.push({ what: 'mount a contained desktop does not have', value: `${m.fstype || '?'} ${m.source}:${m.root} on ${m.mountpoint} (${m.options})${m.extKey ? ` key ${m.extKey}` : ''}` });
    if (m.extKey === containedKeys.host) {
      const source = clean(m.source);
      const hidden = (expected.contained?.hidden ?? []).some((dir) => source === dir || under(source, dir));
      // Freezeframe's own folder (desktop.sh, native/apps), bound by newns at /run/desktop/app, by its host path.
      const app = m.mountpoint === '/run/desktop/app' && source === expected.contained?.appDir;
      if (!app && (source !== m.mountpoint || hidden || !hostMounts.some((h) => h.mountpoint === source))) bad();
      continue;
    }
    if (m.extKey !== undefined) {
      if (containedKeys.mounts[m.extKey] !== m.mountpoint) bad();
      continue;
    }
    const ownDevpts = m.fstype === 'devpts' && opts.includes('newinstance') && opts.includes(`uid=${expected.uid}`) && m.source === 'devpts' &&
      ((m.mountpoint === '/dev/pts' && m.root === '/') || (m.mountpoint === '/dev/ptmx' && m.root === '/ptmx'));
    const ownProc = m.fstype === 'proc' && m.mountpoint === '/proc' && m.root === '/' && m.source === 'proc';
    const ownTmp = m.fstype === 'tmpfs' && m.mountpoint === '/tmp' && m.root === '/' && m.source === 'tmpfs' && optionSet(m.options) === '';
    const root = m.mountpoint === '/' && m.root === '/' && hostMounts.some((h) => h.mountpoint === '/' && h.source === m.source);
    if (!(ownDevpts || ownProc || ownTmp || root)) bad();
  }
  return out;
}

export interface Ghost { name: string; uid: number; gid: number; mode: number }

/** A file deleted while open: criu recreates it at its path, as root, with the owner and mode the image says. */
export function ghostViolations(ghosts: Ghost[], expected: Expected): Violation[] {
  const out: Violation[] = [];
  for (const g of ghosts) {
    const add = (what: string) => out.push({ what, value: g.name });
    const type = g.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFDIR) add('deleted file recreated as a special file');
    else if (g.mode & 0o6000) add('deleted file recreated set-user/group-ID');
    if (g.uid !== expected.uid || g.gid !== expected.gid) add(`deleted file recreated for uid ${g.uid} gid ${g.gid}`);
    if (!(under(g.name, expected.home) || sharedScratch.some((dir) => under(g.name, dir)))) add('deleted file recreated outside the desktop\'s folders');
  }
  return out;
}

const ttyTypes: Record<number, string> = { 0: 'unknown', 2: 'console', 3: 'virtual console', 4: 'controlling tty', 5: 'external', 6: 'serial line' };

/** tty-info.img: a desktop's terminals are its own ptys (xterm's); criu would open a console or VT as root. */
export function ttyViolations(types: number[]): Violation[] {
  return types.filter((t) => t !== 1).map((t) => ({ what: 'terminal that is not a pty', value: ttyTypes[t] ?? `type ${t}` }));
}

export interface TaskSched {
  pid: number;
  tid: number;
  nice?: number;
  policy?: number;
  prio?: number;
  /** Thread group leaders only. */
  oomScoreAdj?: number;
  rlimits?: { resource: number; max: bigint }[];
}

const SCHED_OTHER = 0, SCHED_BATCH = 3, SCHED_IDLE = 5;
const RLIMIT_NICE = 13, RLIMIT_RTPRIO = 14;

/**
 * criu sets scheduling, OOM score and rlimits as root. Real desktops: SCHED_OTHER, nice 0, OOM score adjustment 0
 * (Firefox's content processes raise theirs to 133). Refused: a real-time policy or priority, a negative nice, a
 * lowered OOM score (all need privileges: a desktop that starves or outlives the workstation's own programs), and
 * nice or real-time limits above this server's own hard limits (which would let the desktop take them itself).
 */
export function schedViolations(tasks: TaskSched[], ownHardLimits: Map<number, bigint>): Violation[] {
  const out: Violation[] = [];
  for (const t of tasks) {
    const add = (what: string, value: unknown) => out.push({ pid: t.tid, what, value: String(value) });
    if (t.policy !== undefined && ![SCHED_OTHER, SCHED_BATCH, SCHED_IDLE].includes(t.policy)) add('scheduling policy', t.policy);
    if (t.prio) add('real-time priority', t.prio);
    if (t.nice !== undefined && t.nice < 0) add('nice', t.nice);
    if (t.oomScoreAdj !== undefined && t.oomScoreAdj < 0) add('OOM score adjustment', t.oomScoreAdj);
    for (const { resource, max } of t.rlimits ?? []) {
      if (resource !== RLIMIT_NICE && resource !== RLIMIT_RTPRIO) continue;
      const own = ownHardLimits.get(resource);
      if (own === undefined || max > own) add(resource === RLIMIT_NICE ? 'nice limit' : 'real-time priority limit', max);
    }
  }
  return out;
}
