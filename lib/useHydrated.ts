// Whether React runs the page yet: false in the server's HTML and while the page hydrates, true from then on.
import { useSyncExternalStore } from 'react';

const subscribe = () => () => {};

/** true once React has hydrated this page (never changes after): server and first browser render agree on false. */
export function useHydrated(): boolean {
  return useSyncExternalStore(subscribe, () => true, () => false);
}
