// Tells a PM2 ecosystem file ({ apps: [...] }) from an appd config file, by its name and by its export,
// without loading the translation (pm2-ecosystem.ts), which only an ecosystem file needs. Run by the appd master.

/** An exported object is read as an ecosystem file when it has PM2's apps key (appd has no such setting). */
export function isEcosystem(exported: Readonly<Record<string, unknown>>): boolean {
  return Object.hasOwn(exported, 'apps');
}

/** The file names PM2 itself takes as an ecosystem file when given one to start (pm2 start FILE). */
export function looksLikeEcosystemFile(path: string): boolean {
  return /\.config\.[cm]?js$|\.json$|\.ya?ml$/.test(path);
}
