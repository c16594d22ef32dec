// The path part of an app reference (PATH, PATH:EXPORT, PATH:FACTORY(), PATH:NAME(server)), for code that
// must find or move the file without loading it. Run by the appd master while it resolves settings.

/** "./app.mjs:createApp()" -> ["./app.mjs", ":createApp()"]: the path, and the suffix the worker's loader reads. */
export function splitAppReference(reference: string): [path: string, suffix: string] {
  const match = /^(.*?)((?::[A-Za-z_$][\w$]*(?:\((?:server)?\))?)?)$/.exec(reference);
  return [match?.[1] ?? reference, match?.[2] ?? ''];
}
