// The fleet of test hosts (test/support/fleetHosts.ts) as a worker-scoped Playwright fixture: a spec names its ports,
// subnet and displays with test.use({ fleetOptions }), its tests get the started fleet (formed: every host sees every
// other) as `testFleet`, and the worker's end tears it down whatever failed.
import { test as base } from '@playwright/test';
import type { TestEtcd } from '../../test/support/etcd';
import { makeFleet, type Fleet, type FleetOptions } from '../../test/support/fleetHosts';

export const test = base.extend<object, { fleetOptions: FleetOptions & { etcdPort: number }; testFleet: Fleet & { etcd: TestEtcd } }>({
  fleetOptions: [undefined as unknown as FleetOptions & { etcdPort: number }, { scope: 'worker', option: true }],
  testFleet: [async ({ fleetOptions }, use) => {
    if (!fleetOptions) throw new Error('no fleetOptions: test.use({ fleetOptions: { subnet, port, etcdPort, displays, size } }) in the spec');
    const fleet = await makeFleet(fleetOptions);
    try {
      await fleet.formed();
      await use(fleet);
    } finally {
      await fleet.dispose();
    }
  }, { scope: 'worker', timeout: 120_000 }],
});

export { expect } from '@playwright/test';
