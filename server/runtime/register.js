// Lets plain Node (the custom server, the CLI, the tests) load modules marked `import 'server-only'`.
// Next.js resolves that marker under its react-server condition; plain Node would get the throwing entry.
import { register } from 'node:module';

register('./serverOnlyHook.js', import.meta.url);
