// The frame of every page: the name, the two places to go, and a dark stage-friendly look.
import type { Metadata } from 'next';
import Link from 'next/link';
import { connection } from 'next/server';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'Freezeframe', template: '%s · Freezeframe' },
  description: 'Watch a live Linux desktop, checkpoint it with CRIU, restore it over the same VNC connection.',
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // Every page is rendered per request, the 404 page too: its inline scripts carry the nonce of that response's
  // Content-Security-Policy (server/securityHeaders.ts), which a page prerendered at build time could not know.
  await connection();
  return (
    <html lang="en" className="bg-slate-950">
      <body className="min-h-screen bg-[radial-gradient(ellipse_at_top,rgba(56,189,248,0.08),transparent_55%)] text-slate-100 antialiased">
        {/* No prefetch: the audience link's page sits in this frame too, and its view token may not read these pages
            (a prefetch would be a 403 in its console). */}
        <header className="border-b border-white/5">
          <nav className="mx-auto flex max-w-[1600px] items-center gap-6 px-6 py-3">
            <Link href="/" prefetch={false} className="flex items-center gap-2 text-lg font-semibold tracking-tight">
              <span aria-hidden className="grid size-7 place-items-center rounded-md bg-sky-500/20 text-sky-300 ring-1 ring-sky-400/40">
                ❄
              </span>
              Freezeframe
            </Link>
            <Link href="/" prefetch={false} className="text-sm text-slate-400 hover:text-slate-100">
              Desktops
            </Link>
            <Link href="/environment" prefetch={false} className="text-sm text-slate-400 hover:text-slate-100">
              Environment
            </Link>
            <span className="ml-auto hidden text-xs text-slate-500 sm:block">live desktops · criu dump · criu restore</span>
          </nav>
        </header>
        <main className="mx-auto max-w-[1600px] px-6 py-6">{children}</main>
      </body>
    </html>
  );
}
