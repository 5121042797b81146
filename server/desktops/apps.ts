// The apps a desktop can be started with: presets by name, each with what it needs to be checkpointable.

export interface AppPreset {
  name: string;
  label: string;
  argv: string[];
  /** Environment the app needs to survive a checkpoint; merged into the desktop's environment. */
  env?: Record<string, string>;
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
};

export const defaultApps = ['xterm', 'xclock'];

export function resolveApps(names: string[]): AppPreset[] {
  return names.map((name) => {
    const preset = appPresets[name];
    if (!preset) throw new RangeError(`unknown app "${name}"; known: ${Object.keys(appPresets).join(', ')}`);
    return preset;
  });
}

/** desktop.sh takes each app as its argument count followed by its arguments: no shell string is built. */
export function appArgs(apps: AppPreset[]): string[] {
  return apps.flatMap((app) => [String(app.argv.length), ...app.argv]);
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
