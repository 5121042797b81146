// The apps a desktop can be started with: presets by name, each with what it needs to be checkpointable.
/**
 * What an app needs of criu beyond Freezeframe's own options, under CRIU's names (server/criu/options.ts maps them
 * to flags). A desktop's record keeps what its presets need (criuNeeds), and every dump of it passes them on; none
 * of them matters to a restore, which reads what it needs from the images.
 */
export interface AppCriuNeeds {
  /** --ghost-limit, in bytes: the largest file deleted while still open that criu copies into the images. */
  ghostLimit?: number;
}

/** The largest ghost limit a record may carry (an imported one included): the images hold the files it lets in. */
export const maxGhostLimit = 1 << 30;

export interface AppPreset {
  name: string;
  label: string;
  /**
   * Its argv; an argument starting with `{root}/` names a file shipped in this repository (native/apps/), made
   * absolute at launch (this module is also the dashboard's, in the browser: it cannot know the root).
   */
  argv: string[];
  /** Environment the app needs to survive a checkpoint; merged into the desktop's environment. */
  env?: Record<string, string>;
  /** What it needs of criu (see AppCriuNeeds). */
  criu?: AppCriuNeeds;
  /** The Debian package that provides it. */
  debianPackage: string;
}

export const appPresets: Record<string, AppPreset> = {
  xterm: { name: 'xterm', label: 'Terminal (xterm)', argv: ['xterm', '-geometry', '80x24+10+10'], debianPackage: 'xterm' },
  xclock: {
    name: 'xclock',
    label: 'Clock with a second hand (xclock)',
    argv: ['xclock', '-update', '1', '-geometry', '200x200-10+10'],
    debianPackage: 'x11-apps',
  },
  firefox: {
    name: 'firefox',
    label: 'Firefox ESR on a counter page (sandboxes off, so that it can be checkpointed)',
    // The wrapper gives it a profile of the desktop's own whose prefs keep it off the network by itself (no
    // first-run pages, telemetry, update checks). The page: a JavaScript counter that keeps the picture moving,
    // and a click or key turns its colour.
    argv: ['{root}/native/apps/firefox.sh', '{root}/native/apps/counter.html'],
    // Firefox's sandboxed child processes live in namespaces of their own, and criu cannot dump nested
    // namespaces: every sandbox must be off. Its profile holds file locks: dump and restore run with
    // --file-locks (always on here), without which restore says rc 0 but drops the locks.
    env: {
      MOZ_DISABLE_CONTENT_SANDBOX: '1',
      MOZ_DISABLE_RDD_SANDBOX: '1',
      MOZ_DISABLE_SOCKET_PROCESS_SANDBOX: '1',
      MOZ_DISABLE_UTILITY_SANDBOX: '1',
      MOZ_DISABLE_GMP_SANDBOX: '1',
      MOZ_CRASHREPORTER_DISABLE: '1',
    },
    debianPackage: 'firefox-esr',
  },
  writer: {
    name: 'writer',
    label: 'LibreOffice Writer',
    argv: ['libreoffice', '--writer', '--norestore', '--nologo'],
    debianPackage: 'libreoffice-writer',
  },
  calculator: {
    name: 'calculator',
    label: 'Calculator (gnome-calculator)',
    // The wrapper keeps its settings in a key file in the desktop's home (no D-Bus, so no dconf) with the
    // currency-rate download off: no connection to the internet in the middle of a dump.
    argv: ['{root}/native/apps/calculator.sh'],
    // No accessibility bus (there is no D-Bus); GTK 4 draws with cairo, not OpenGL (Xvnc has no GPU).
    env: { NO_AT_BRIDGE: '1', GTK_A11Y: 'none', GSK_RENDERER: 'cairo' },
    debianPackage: 'gnome-calculator',
  },
  mousepad: {
    name: 'mousepad',
    label: 'Text editor (mousepad)',
    argv: ['mousepad'],
    env: { GSETTINGS_BACKEND: 'memory', NO_AT_BRIDGE: '1' },
    debianPackage: 'mousepad',
  },
  xpdf: {
    name: 'xpdf',
    label: 'PDF viewer (xpdf) on a three-page sample',
    argv: ['xpdf', '-geometry', '640x520+10+10', '{root}/native/apps/sample.pdf'],
    debianPackage: 'xpdf',
  },
  chromium: {
    name: 'chromium',
    label: 'Chromium on a counter page (no sandbox, no GPU, so that it can be checkpointed)',
    // The wrapper: no sandbox (its renderers' namespaces cannot be dumped), no GPU, a profile in the desktop's home,
    // off the network by itself; the page is Firefox's counter.
    argv: ['{root}/native/apps/chromium.sh', '{root}/native/apps/counter.html'],
    // It keeps a deleted file open: BrowserMetrics/BrowserMetrics-*.pma, its persistent histograms, 4 MiB from the
    // start (with two of a few bytes beside it): criu copies such ghosts into the images only up to --ghost-limit,
    // 1 MiB by default ("Can't dump ghost file ... of 4194304 size, increase limit"). 8 MiB: room to spare.
    criu: { ghostLimit: 8 << 20 },
    debianPackage: 'chromium',
  },
  mpv: {
    name: 'mpv',
    label: 'Video player (mpv) looping a test clip',
    argv: [
      'mpv', '--config=no', '--vo=x11', '--hwdec=no', '--audio=no', '--loop-file=inf', '--osd-level=3',
      '--geometry=480x360+10+10', '--no-terminal', '--title=Freezeframe clip',
      '{root}/native/apps/clip.mkv',
    ],
    debianPackage: 'mpv',
  },
};

/** A command of the user's own: argv only, never a shell string. */
export const commandLimits = { maxArgs: 32, maxArgLength: 1024, maxCommands: 8 };

/** Checks a custom command's argv; throws a RangeError saying what is wrong. */
export function checkCommand(argv: string[]): string[] {
  const { maxArgs, maxArgLength } = commandLimits;
  if (!Array.isArray(argv) || argv.length < 1 || argv.length > maxArgs) throw new RangeError(`a command has 1 to ${maxArgs} arguments`);
  for (const arg of argv) {
    if (typeof arg !== 'string' || arg.length < 1 || arg.length > maxArgLength) throw new RangeError(`each argument has 1 to ${maxArgLength} characters`);
    if (/[\0\n\r]/.test(arg)) throw new RangeError('arguments hold no NUL or line breaks');
  }
  if (!/^[A-Za-z0-9._+/-]+$/.test(argv[0]) || argv[0].startsWith('-')) {
    throw new RangeError(`"${argv[0]}" is not a program name or path`);
  }
  return argv;
}

/** A custom command as an app of the desktop. */
export function customApp(argv: string[]): AppPreset {
  checkCommand(argv);
  return { name: 'custom', label: argv.join(' '), argv, debianPackage: '' };
}

export const defaultApps = ['xterm', 'xclock'];

/** Checks what an imported record says its desktop needs of criu; throws a RangeError if it is not such a thing. */
export function checkCriuNeeds(needs: unknown): AppCriuNeeds | undefined {
  if (needs === undefined) return undefined;
  if (typeof needs !== 'object' || needs === null) throw new RangeError('criu needs are an object');
  const { ghostLimit, ...rest } = needs as AppCriuNeeds;
  if (Object.keys(rest).length) throw new RangeError('criu needs hold only ghostLimit');
  if (ghostLimit !== undefined && !(Number.isInteger(ghostLimit) && ghostLimit > 0 && ghostLimit <= maxGhostLimit)) {
    throw new RangeError(`ghostLimit is a number of bytes up to ${maxGhostLimit}`);
  }
  return needs as AppCriuNeeds;
}

/** What a desktop of these apps needs of criu: the largest ghost limit any of them asks for; undefined if none. */
export function criuNeeds(apps: AppPreset[]): AppCriuNeeds | undefined {
  const limits = apps.map((app) => app.criu?.ghostLimit).filter((n): n is number => n !== undefined);
  return limits.length ? { ghostLimit: Math.max(...limits) } : undefined;
}

export function resolveApps(names: string[]): AppPreset[] {
  return names.map((name) => {
    const preset = appPresets[name];
    if (!preset) throw new RangeError(`unknown app "${name}"; known: ${Object.keys(appPresets).join(', ')}`);
    return preset;
  });
}

/** desktop.sh takes each app as its argument count followed by its arguments: no shell string is built. */
export function appArgs(apps: AppPreset[], rootDir: string): string[] {
  const resolve = (arg: string) => (arg.startsWith('{root}/') ? rootDir + arg.slice('{root}'.length) : arg);
  return apps.flatMap((app) => [String(app.argv.length), ...(app.name === 'custom' ? app.argv : app.argv.map(resolve))]);
}

export const geometryLimits = { minWidth: 320, maxWidth: 3840, minHeight: 240, maxHeight: 2160 };

export function parseGeometry(geometry: string): { width: number; height: number } {
  const m = /^(\d{3,4})x(\d{3,4})$/.exec(geometry);
  const { minWidth, maxWidth, minHeight, maxHeight } = geometryLimits;
  if (!m) throw new RangeError(`geometry must look like 1024x768, not "${geometry}"`);
  const [width, height] = [Number(m[1]), Number(m[2])];
  if (width < minWidth || width > maxWidth || height < minHeight || height > maxHeight) {
    throw new RangeError(`geometry ${geometry} is outside ${minWidth}x${minHeight}..${maxWidth}x${maxHeight}`);
  }
  return { width, height };
}
