// Reads CRIU's verdict out of its log: the success line, the first errors, and a hint where the cause is known.

export interface LogVerdict {
  ok: boolean;
  /** The success line, or else the last non-empty line of the log. */
  lastLine: string;
  /** The first "Error (" lines (also the restorer's "pie: N: Error ("), minus ones CRIU prints on success too. */
  errors: string[];
}

const successLine: Record<'dump' | 'restore', string> = {
  dump: 'Dumping finished successfully',
  restore: 'Restore finished successfully',
};

// Root here lacks CAP_SYS_RESOURCE, so criu cannot raise its own RLIMIT_NOFILE; it says so as an Error on every
// run, successful or not. It is never the cause of a failure, so it would only hide the real first error.
// Over RPC (criu swrk, criu/swrk.ts) criu answers its requester after the work is done and logged; a requester that
// died meanwhile (a server killed mid-dump) gets "Can't send response: Broken pipe" after the verdict line. The
// operation itself is what the rest of the log says.
const benignErrors = [/Can't setup RLIMIT_NOFILE for self/, /cr-service\.c:\d+\): Can't send response/];

/** A log line without its "(  0.123) " timestamp and trailing blanks. */
const clean = (line: string) => line.replace(/^\(\s*[\d.]+\)\s*/, '').trimEnd();
// The restorer's own lines carry a prefix: "pie: 10: Error (criu/pie/restorer.c:...): Can't read pages data".
const errorAt = (line: string) => /(^|: )Error \(/.test(line) && !benignErrors.some((re) => re.test(line));

/**
 * The verdict, found by searching the text rather than going through every line: a -v4 log is ~1 MB and ~10 000
 * lines, read at the end of every dump and restore, on the API's critical path.
 */
export function readVerdict(op: 'dump' | 'restore', log: string, maxErrors = 3): LogVerdict {
  const lineStart = (i: number) => log.lastIndexOf('\n', i - 1) + 1;
  const lineEnd = (i: number) => (log.indexOf('\n', i) + 1 || log.length + 1) - 1;
  // Every error line (each one contains "Error ("), with where it starts.
  const errorLines: { start: number; text: string }[] = [];
  for (let i = log.indexOf('Error ('); i >= 0; ) {
    const start = lineStart(i);
    const end = lineEnd(i);
    const text = clean(log.slice(start, end));
    if (errorAt(text)) errorLines.push({ start, text });
    i = log.indexOf('Error (', end);
  }
  const errors = errorLines.slice(0, maxErrors).map((e) => e.text);
  // restore logs a few bookkeeping lines after its verdict ("Writing stats", "Running post-resume scripts"):
  // success is the verdict line with no error after it.
  const found = log.lastIndexOf(successLine[op]);
  if (found >= 0) {
    const start = lineStart(found);
    if (!errorLines.some((e) => e.start >= start)) return { ok: true, lastLine: clean(log.slice(start, lineEnd(found))), errors };
  }
  let lastLine = '';
  for (let end = log.length; end > 0 && lastLine === ''; ) {
    const start = lineStart(end);
    lastLine = clean(log.slice(start, end));
    if (lastLine.trim() === '') lastLine = '';
    end = start - 1;
  }
  return { ok: false, lastLine, errors };
}

/** Known causes, measured on these machines, each with what to do about it. */
const hints: [RegExp, string][] = [
  [/No space left on device|ENOSPC/, 'The disk where checkpoints live is full: free space there (delete old checkpoints), then checkpoint again.'],
  // criu 4.2.1, files-reg.c: "Can't dump ghost file <path> of <n> size, increase limit" (Chromium's 4 MiB
  // BrowserMetrics file, deleted at start and kept open, against the 1 MiB default).
  [/Can't dump ghost file .* increase limit/, "An app keeps a deleted file open that is larger than criu's --ghost-limit (1 MiB unless raised), so criu will not copy it into the images. A preset raises it for its app (`criu: { ghostLimit }` in lib/presets.ts; the chromium preset does): start such an app from its preset rather than as a command of your own."],
  // criu 4.2.1 mem.c premaps every private mapping (writable) when the restorer cannot fill it itself: a lazy
  // restore, or shared pages. Chromium reserves more address space than the machine has memory (bench/lazy.mts).
  [/Unable to map ANON_VMA: Cannot allocate memory/, "criu had to map all of an app's memory up front (a lazy restore does), and an app's address-space reservation is larger than this machine's memory can back (Chromium's): restore it with lazy: false."],
  [/has bad size/, 'A file open in the desktop changed size since the dump (its log, for example). Freezeframe puts the log back as it was at the dump; a file changed by hand cannot be restored.'],
  [/Unable to open dev\/ptmx with specified index/, "A pty number of this desktop is taken by another one. Desktops need a private devpts instance (native/newns mounts one); this desktop may have been started without it."],
  [/Can't get rlimit \d+: Operation not permitted/, "This criu cannot read the rlimits of the desktop's unprivileged user where root lacks CAP_SYS_RESOURCE: it lacks Freezeframe's patch (scripts/criu-patches/). Run scripts/install.sh, which rebuilds vendor/criu with it."],
  [/vvar_vclock|vDSO/i, 'This criu is too old for the kernel (vDSO layout). Freezeframe needs CRIU >= 4.2: run scripts/install.sh to build it.'],
  [/SO_PASSCRED|Operation not supported.*sock/i, 'criu 4.1 cannot dump TCP sockets on kernels >= 6.16 (SO_PASSCRED). Use CRIU >= 4.2 (scripts/install.sh builds it).'],
  [/nested (pid|user|mnt|net|ipc|uts)?\s*namespace|Can't dump nested/i, 'An app created namespaces of its own (a browser sandbox, for example), which criu cannot dump. Firefox needs every MOZ_DISABLE_*_SANDBOX=1.'],
  [/pidfile|pid file/i, 'A pidfile from an earlier restore was left behind; it must be removed before restore.'],
  [/[Ff]ile lock|flock|posix lock/, 'The tree holds file locks: dump and restore need --file-locks (fileLocks).'],
  [/Address already in use|Can't bind/, "The desktop's display or VNC port is taken by another program; restore needs them free."],
  [/inventory\.img|No such file or directory.*\.img|Unexpected EOF/, 'The checkpoint images are missing or damaged.'],
  [/[Cc]onnection.*(not found|repair)|TCP_REPAIR|tcp_repair/, "The desktop's TCP connection could not be repaired; its viewer may be gone (restore with tcpClose and let the viewer reconnect)."],
  [/mnt.*ns|mount namespace|mntns/i, 'The desktop has a mount namespace of its own: restore needs --root / and must not use --mntns-compat-mode.'],
];

export function hintFor(text: string): string | undefined {
  return hints.find(([re]) => re.test(text))?.[1];
}
