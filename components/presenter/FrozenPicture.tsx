'use client';
// What a page opened during a freeze shows instead of a screen it never received: the picture taken just before
// the dump (a VNC viewer connects only to a running desktop).
export function FrozenPicture({ desktopId, checkpoint }: { desktopId: string; checkpoint: string }) {
  return (
    <div data-testid="frozen-picture" className="absolute inset-0 grid grid-rows-[minmax(0,1fr)_auto] place-items-center gap-2 p-4">
      {/* eslint-disable-next-line @next/next/no-img-element -- a 320 px PNG from our own API, nothing to optimise */}
      <img
        src={`/api/desktops/${desktopId}/watch/thumbnail?checkpoint=${checkpoint}`}
        alt="The desktop as it was when it froze"
        className="h-full min-h-0 w-full object-contain opacity-80"
      />
      <span className="text-sm text-slate-400">The screen as it froze; it comes back live with the restore.</span>
    </div>
  );
}
