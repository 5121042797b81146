// Desktop and checkpoint ids: how they are made, and the patterns every edge (API, actions, CLI, URLs, archives)
// checks them against. Browser-safe.

/** The ids this installation makes: the prefix and 8 hex digits ("d-1a2b3c4d", "c-…"). */
export function newId(kind: 'd' | 'c'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `${kind}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** What a request may name: checked before any file is read (no "..", no slash), unknown ids are then not_found. */
export const desktopIdPattern = /^d-[a-z0-9]{1,60}$/;
export const checkpointIdPattern = /^c-[a-z0-9]{1,60}$/;

/** Exactly what newId makes: an imported archive must name its checkpoint and desktop so. */
export const madeDesktopIdPattern = /^d-[a-f0-9]{8}$/;
export const madeCheckpointIdPattern = /^c-[a-f0-9]{8}$/;

/** A desktop id as a path segment of a URL (the VNC WebSocket's, a view token's), for a capture group. */
export const desktopIdSegment = 'd-[a-z0-9]{1,60}';

export const isDesktopId = (id: unknown): id is string => typeof id === 'string' && desktopIdPattern.test(id);
export const isCheckpointId = (id: unknown): id is string => typeof id === 'string' && checkpointIdPattern.test(id);
