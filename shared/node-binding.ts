// Reaches one of Node's own bindings through process.binding (DEP0111, deprecated in the documentation
// only), for the two places where the public module costs more than its use. Run by the appd master
// (daemon/master/v8-flags.ts, on Node 20) and by appctl (ctl/client/pipe-transport.ts).

/**
 * The binding `name`, or null when this Node does not give it: no process.binding (a future Node), or
 * one that refuses it (the permission model's --permission, a name Node no longer lists).
 *
 * Node warns about process.binding at run time for some names (v8 on Node 20) and for all of them under
 * --pending-deprecation. The warning would be about appd's own access, not the user's code, so it is held
 * back for this one call (a user's own call still warns: Node only counts a shown warning).
 */
export function nodeBinding<Binding>(name: string): Binding | null {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') return null;
  const noDeprecation = process.noDeprecation;
  process.noDeprecation = true;
  try {
    return binding.call(process, name) as Binding;
  } catch (error) {
    // Refused (ERR_ACCESS_DENIED under --permission, "No such module" once Node drops the name): the
    // caller takes its public way instead.
    if (error instanceof Error) return null;
    throw error;
  } finally {
    process.noDeprecation = noDeprecation;
  }
}
