// A module loaded at its first use and kept: a CLI call that needs it not pays nothing, and an operation that
// needs it again pays nothing either.
//
// Why kept (measured, issue #13): under tsx's loader, which runs the server, `await import()` of a module already
// loaded still costs 0.3-0.5 ms; a restore's path took five of them (the input schemas twice, the restore
// operation, the trust check, the network namespace's helpers), about 1.5 ms of its ~20 ms over criu.

/** () => the module; a load that failed is tried again at the next call. */
export function lazyModule<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}
