// The master's life from start to exit: identity and directories, logs, hooks, pidfile, listeners, the
// arbiter loop, and cleanup that leaves nothing behind whatever happened. Run by the appd master.

import { resolve } from 'node:path';
import { describeNameOrigin } from '../../shared/config/default-name.js';
import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { controlSocketPath, currentPathContext } from '../../shared/control/socket-path.js';
import { AppdError, ConfigError, describeError } from '../../shared/errors.js';
import { readPackageVersion } from '../../shared/version.js';
import { Arbiter } from '../arbiter/arbiter.js';
import type { LifecycleObserver } from '../arbiter/options.js';
import { readConfig, type ConfigSources } from '../config/sources.js';
import { ControlServer } from '../control/server.js';
import { prepareControlDirectory, refuseIfRunning } from '../control/socket-file.js';
import { awaitHook } from '../config/hooks.js';
import { takeInheritedSockets } from '../sockets/inherited.js';
import { closeListeners, describeListener, openListeners, type Listener } from '../sockets/listeners.js';
import { listenModesOf } from '../sockets/listen-without-accepting.js';
import { ProcessGroups } from '../workers/process-groups.js';
import { autogroupWriter, SessionShare } from '../workers/spawn/session-share.js';
import { ChildProcessSpawner } from '../workers/spawn/spawner.js';
import { compactHeap } from './heap-compaction.js';
import { initialSlotBinds, refuseReusePortWithSystemdSockets } from '../sockets/slot-sockets.js';
import { Logger } from './logger.js';
import { allBinds, checkCommandRunnable, describeProgram, poolSettingsFromConfig } from '../pools/pool.js';
import { warnIfPidOne } from './pid-one.js';
import { masterHandover } from '../upgrade/handover.js';
import { checkPidfile, removePidfile, writePidfile } from './pidfile.js';
import { onSettingPath } from '../config/setting-paths.js';
import { masterTitle, setProcessTitle, upgradeMasterComm, upgradeMasterTitle } from '../contracts/process-title.js';
import { nodeLauncher, refuseUntrustedSuccessor } from '../upgrade/node-launcher.js';
import { installSignalHandlers } from '../arbiter/signals.js';
import { combineObservers, SystemdLifecycle } from '../systemd/lifecycle.js';
import { SystemdNotifier } from '../systemd/notify.js';
import type { SuccessorCommand } from '../upgrade/coordinator.js';
import { oldPidfilePath } from '../upgrade/messages.js';
import { clearStaleOldPidfile } from '../upgrade/old-pidfile.js';
import { takeoverObserver, type PredecessorLink } from '../upgrade/successor.js';
import type { AdminServer } from '../metrics/admin-server.js';
import { checkMetricsBind } from '../metrics/metrics-bind.js';
import { ProbeState } from '../metrics/health.js';
import { warnIfMemoryShort } from '../container/memory-check.js';
import { countOf } from '../../shared/plural.js';
import { monotonicMilliseconds } from '../arbiter/clock.js';

export interface MasterOutcome {
  readonly exitCode: number;
  /** Set when the master stopped because of an error; the caller prints it. */
  readonly error: AppdError | null;
  readonly logger: Logger | null;
}

/** Checks made before anything is started, so that --check-config reports them too. */
export function checkStartable(resolved: ResolvedConfig): void {
  const { app, script, pools } = resolved.values;
  checkMetricsBind(
    resolved.values.metricsBind,
    allBinds(resolved.values).map((owned) => owned.bind),
  );
  if (pools !== null) {
    for (const settings of poolSettingsFromConfig(resolved.values)) checkCommandRunnable(settings);
    return;
  }
  if (!app && !script) {
    throw new ConfigError(
      'no app to serve: give one (appd ./server.js), or a script that listens itself (appd --script ./server.js), or set "app" in the config file',
    );
  }
  if (app && script) {
    throw new ConfigError(
      `both app (${app}) and script (${script}) are set: give one; app serves a module's export, script runs a server script unmodified (arguments for the script go after --: appd --script ${script} -- ${app})`,
    );
  }
}

/**
 * How a successor is started on upgrade: this master's Node and script with the arguments and
 * APPD_CMD_ARGS it was started with, from the directory it was started in (before chdir), so it
 * reads the same config sources; a new appd or Node installed at the same paths is picked up.
 */
function successorCommand(sources: ConfigSources, notifier: SystemdNotifier | null, predecessor: PredecessorLink | null): SuccessorCommand {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...notifier?.successorEnvironment() };
  if (sources.environmentArguments === undefined) delete environment['APPD_CMD_ARGS'];
  else environment['APPD_CMD_ARGS'] = sources.environmentArguments;
  const node = nodeLauncher(process.argv0, predecessor?.node ?? null, process.env['PATH'], sources.directory, process.execPath);
  const script = process.argv[1] ?? '';
  refuseUntrustedSuccessor(node, script);
  // Under systemd the successor must be systemd's own child when it announces MAINPID= (orphaned-successor.ts).
  return {
    execPath: node,
    args: [...process.execArgv, script, ...sources.argv],
    cwd: sources.directory,
    environment,
    orphaned: notifier !== null,
  };
}

/** `predecessor` is set when an upgrade started this master: it takes over once its workers are ready. */
export async function runMaster(
  resolved: ResolvedConfig,
  sources: ConfigSources,
  observer: LifecycleObserver,
  predecessor: PredecessorLink | null = null,
  /** Lines about the start so far (before the log was open), logged first. */
  startNotes: readonly string[] = [],
): Promise<MasterOutcome> {
  const config = resolved.values;
  process.umask(config.umask);
  if (config.chdir) process.chdir(resolve(sources.directory, config.chdir));
  const logPath = config.errorLogfile === null || config.errorLogfile === '-' ? '-' : resolve(config.errorLogfile);
  let logger: Logger;
  try {
    logger = await onSettingPath(resolved, 'errorLogfile', logPath, 'open', () => new Logger(logPath, config.logLevel));
    logger.setFormat(config.logFormat);
  } catch (error) {
    if (error instanceof AppdError) return { exitCode: error.exitCode, error, logger: null };
    throw error;
  }
  const server = { name: config.name, pid: process.pid, config };
  // Before any worker is spawned: it takes NOTIFY_SOCKET out of the environment workers inherit.
  const notifier = SystemdNotifier.fromEnvironment(process.env, (message) => logger.warning(message));
  let listeners: Listener[] = [];
  let arbiter: Arbiter | null = null;
  let pidfile: string | null = null;
  let control: ControlServer | null = null;
  let admin: AdminServer | null = null;
  const controlPath = controlSocketPath(
    config.name,
    config.controlSocket === null ? null : resolve(config.controlSocket),
    currentPathContext(),
  );
  try {
    if (predecessor) setProcessTitle(upgradeMasterTitle('new', config.name), upgradeMasterComm('new'));
    else setProcessTitle(masterTitle(config.name), 'appd: master');
    await awaitHook(logger, 'onStarting', config.onStarting, server);
    if (config.pidfile) {
      const path = resolve(config.pidfile);
      await onSettingPath(resolved, 'pidfile', path, 'read', () => checkPidfile(path, predecessor?.pid ?? null));
      pidfile = path;
    }
    // Before binding anything: a second daemon of the same name is told who runs, not "address in use".
    // A successor expects its old master there, and takes the path over once ready.
    // Its directory first: a socket found in a directory others may write could be anyone's.
    await onSettingPath(resolved, 'controlSocket', controlPath, 'create', () =>
      prepareControlDirectory(controlPath, config.controlSocket === null),
    );
    await refuseIfRunning(controlPath, config.name, predecessor?.pid ?? null, describeNameOrigin(resolved, process.cwd()));
    // reuse-port binds its sockets per slot (a previous master's come back to their slots by bind text).
    const bindIsDefault = resolved.sources.bind.kind === 'default' && config.pools === null && !config.reusePort;
    const inherited = takeInheritedSockets(process.env);
    refuseReusePortWithSystemdSockets(config, inherited);
    listeners = await openListeners(
      [...allBinds(config), ...initialSlotBinds(config, inherited)],
      bindIsDefault,
      inherited,
      listenModesOf(config),
    );
    const pidfilePath = pidfile;
    if (pidfilePath && !predecessor) await onSettingPath(resolved, 'pidfile', pidfilePath, 'write', () => writePidfile(pidfilePath));
    const upgrading = predecessor ? `, upgrading the master pid ${predecessor.pid}` : '';
    logger.info(`Starting appd ${readPackageVersion()} on Node ${process.version} (master pid ${process.pid}${upgrading})`);
    if (pidfilePath && !predecessor) clearStaleOldPidfile(pidfilePath, logger);
    warnIfPidOne(logger);
    for (const note of startNotes) logger.info(note);
    for (const listener of listeners) logger.info(`Listening at: ${describeListener(listener, listener.origin)}`);
    for (const pool of poolSettingsFromConfig(config))
      logger.info(`Pool ${pool.name}: ${describeProgram(pool)}, ${countOf(pool.workers, 'worker')}`);

    const systemd = notifier && new SystemdLifecycle(notifier, monotonicMilliseconds, { successor: predecessor !== null });
    const ownedPidfile = pidfile;
    const controlServer = (): ControlServer | null => control;
    // Before the arbiter exists: /startupz must hear of its first ready even if that comes quickly.
    const probes = config.metricsBind ? new ProbeState() : null;
    const takeover =
      predecessor &&
      takeoverObserver({ link: predecessor, name: config.name, logger, control: controlServer, pidfile: ownedPidfile, notifier });
    // Each worker leads its own process group; what it leaves there is cleaned up (process-groups.ts).
    // It leads its own session too, and the sessions of all together weigh one (session-share.ts).
    const sessionShare = autogroupWriter();
    logger.debug(
      sessionShare.writer === null
        ? `worker sessions left as they are: ${sessionShare.why}`
        : 'worker sessions weighed as one (autogroup is on)',
    );
    const spawner = new ChildProcessSpawner(
      process.env,
      new ProcessGroups(logger, config.name),
      new SessionShare(logger, sessionShare.writer),
    );
    const started: Arbiter = new Arbiter({
      resolved,
      listeners,
      logger,
      baseEnvironment: process.env,
      spawner,
      compactHeap,
      readConfig: async () => {
        // RELOADING=1 reaches systemd before the reload reads anything, so that a config error is
        // logged while systemd already shows the unit reloading, never before.
        await systemd?.announced();
        return (await readConfig(sources, resolved.configFile)).resolved;
      },
      // systemd's MAINPID= is queued before the takeover waits for it to be delivered.
      observer: combineObservers(systemd, observer, takeover, probes?.observer ?? null, {
        ready: () => {
          if (arbiter) warnIfMemoryShort(arbiter.supervisor, logger);
        },
      }),
      controlSocket: controlPath,
      upgrade: {
        command: () => successorCommand(sources, notifier, predecessor),
        predecessorPid: () => (predecessor?.alive ? predecessor.pid : null),
        handover: masterHandover({
          name: config.name,
          logger,
          listeners: () => started.listeners,
          pidfile: ownedPidfile,
          control: controlServer,
          systemd,
        }),
      },
      requireEveryWorker: predecessor !== null,
      firstGeneration: predecessor?.generation ?? 1,
      handedPools: predecessor?.pools ?? [],
    });
    arbiter = started;
    const queue = arbiter.queue;
    if (config.metricsBind && probes) {
      const address = config.metricsBind;
      if (address.kind !== 'tcp' && address.kind !== 'unix')
        throw new ConfigError(`metrics-bind ${address.text}: expected HOST:PORT or unix:PATH`);
      // Loaded only when asked for: node:http and the exposition cost an idle master 2 MB (Node 20), 17 MB (Node 24).
      const { AdminServer } = await import('../metrics/admin-server.js');
      admin = await AdminServer.open({
        address,
        socketMode: config.unixSocketMode,
        logger,
        arbiter,
        probes,
        predecessorHoldsAddress: predecessor?.alive ?? false,
      });
    }
    control = await onSettingPath(resolved, 'controlSocket', controlPath, 'create', () =>
      ControlServer.open({
        path: controlPath,
        isDefaultPath: config.controlSocket === null,
        identity: { name: config.name, pid: process.pid, version: readPackageVersion(), node: process.version },
        logger,
        enqueue: (event) => queue.push(event),
        standby: predecessor !== null,
      }),
    );
    const removeSignalHandlers = installSignalHandlers((event) => queue.push(event));
    // --reload is for development: a master started without it never loads the watcher's code.
    const reloadWatching = config.reload ? await import('../config/dev-reload-watcher.js') : null;
    const watcher = reloadWatching
      ? new reloadWatching.ReloadWatcher(
          reloadWatching.watchedRoots(poolSettingsFromConfig(config), process.cwd()),
          resolved.configFile,
          (event) => queue.push(event),
          logger,
        )
      : null;
    try {
      const exitCode = await arbiter.run();
      await spawner.settled();
      logger.info('Shutting down: master');
      return { exitCode, error: null, logger };
    } finally {
      watcher?.close();
      removeSignalHandlers();
    }
  } catch (error) {
    if (error instanceof AppdError) {
      // A successor's failure is the old master's to report: it serves on, and the service with it.
      if (!predecessor) notifier?.send({ STATUS: `failed: ${error.message}` });
      return { exitCode: error.exitCode, error, logger };
    }
    logger.critical(`master failed: ${describeError(error)}`);
    throw error;
  } finally {
    // A reload may have bound new sockets and closed old ones: close what the master holds now. A
    // successor whose old master still serves (a manual upgrade rolled back) leaves the socket files to it.
    const held = arbiter?.listeners ?? listeners;
    if (predecessor?.alive) for (const listener of held) listener.ownsPath = false;
    closeListeners(held);
    if (pidfile) {
      // Each only if it still names this process: after an upgrade the pidfile is the successor's.
      removePidfile(pidfile);
      removePidfile(oldPidfilePath(pidfile));
    }
    // After the port and pidfile are free: a client of `appctl stop` returns when we hang up, and then
    // `appctl stop && appd …` can start the next daemon at once.
    await control?.close();
    await awaitHook(logger, 'onExit', config.onExit, server);
    // STOPPING=1 and a failure's STATUS= must reach systemd before the master is gone.
    await notifier?.flush();
    // Last: /livez answers until the master exits (/readyz has said 503 since the stop began).
    await admin?.close();
  }
}
