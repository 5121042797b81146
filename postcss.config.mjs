// PostCSS for Next.js: Tailwind CSS 4 is its one plugin.
export default {
  plugins: {
    '@tailwindcss/postcss': {},
  },
};
