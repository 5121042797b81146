// The fixed paths and criu keys of a self-contained desktop: the same inside every desktop, so images name no host path.

/** What every self-contained desktop sees, whatever its host folders or network namespace. */
export const inside = {
  /** The desktop user's home: a host folder (or an overlay over a checkpoint's base copy) bound here. */
  home: '/home/desktop',
  /** The desktop's own runtime folder (its log, its VNC password file), a host folder bound here. */
  run: '/run/desktop',
  log: '/run/desktop/desktop.log',
  passwordFile: '/run/desktop/vnc.passwd',
  /**
   * Freezeframe's own folder (desktop.sh, the presets' files), bound read-only: the host's copy may live under /tmp,
   * which the private /tmp covers (a clone in /tmp: "newns: exec the desktop program: No such file or directory"),
   * and images then name this path, not wherever the host keeps it.
   */
  app: '/run/desktop/app',
  /** Own /tmp and own network namespace: display :1 and port 5901 in every desktop. */
  display: 1,
  vncPort: 5901,
} as const;

/** criu's names for what lives outside the images: the kept network namespace and the two bound folders. */
export const externalKeys = {
  net: 'desktop-net',
  home: 'desktop-home',
  run: 'desktop-run',
  /** A desktop with a uid of its own: the generated /etc/passwd and /etc/group bound inside (see passwd.ts). */
  passwd: 'desktop-passwd',
  group: 'desktop-group',
} as const;
