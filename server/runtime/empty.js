// Stand-in for 'server-only' outside Next.js (see register.js).
export {};
