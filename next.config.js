// Next.js settings: the server's own modules run processes and sockets, so their packages stay external.
/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: ['execa', 'ws'],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
