// Module resolve hook: 'server-only' -> an empty module, as Next.js does for server code.
const emptyUrl = new URL('./empty.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'server-only') return { url: emptyUrl, shortCircuit: true, format: 'module' };
  return nextResolve(specifier, context);
}
