// Every metric family the admin listener's /metrics serves: name, type, labels and help, declared once.
// The collector fills them and the README's metric list is generated from here. Run by the appd master.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly help: string;
}

function metric<const Name extends string, const Type extends MetricType>(
  name: Name,
  type: Type,
  labels: readonly string[],
  help: string,
): MetricSpec & { readonly name: Name; readonly type: Type } {
  return { name, type, labels, help };
}

export const METRICS = {
  requests: metric(
    'appd_http_requests_total',
    'counter',
    ['pool', 'code'],
    "HTTP requests answered, by status class (1xx counts upgraded connections); a replaced worker's requests stay counted.",
  ),
  requestDuration: metric(
    'appd_http_request_duration_seconds',
    'histogram',
    ['pool'],
    "Time from a request's arrival to the end of its response, summed over all workers of the pool.",
  ),
  inFlight: metric('appd_http_requests_in_flight', 'gauge', ['pool'], "Requests being answered now (at the workers' last heartbeat)."),
  connections: metric('appd_http_connections_open', 'gauge', ['pool'], "Open client connections (at the workers' last heartbeat)."),
  workers: metric(
    'appd_workers',
    'gauge',
    ['pool', 'state'],
    'Workers by state: starting, ready, stopping; and slots waiting to start again (backoff) or given up (fatal).',
  ),
  workersDesired: metric('appd_workers_desired', 'gauge', ['pool'], 'Workers the pool wants now (after scale, TTIN/TTOU, WINCH).'),
  restarts: metric(
    'appd_worker_restarts_total',
    'counter',
    ['pool', 'reason'],
    'Workers replaced, by reason: crash, timeout, max_requests, max_memory, oom, outside_kill, reload.',
  ),
  reloads: metric(
    'appd_reloads_total',
    'counter',
    ['pool', 'outcome'],
    'Reloads (HUP, appctl reload, appctl restart) by outcome: completed, rolled_back, abandoned, failed.',
  ),
  reloadDuration: metric(
    'appd_reload_duration_seconds',
    'histogram',
    ['pool'],
    "Time from a reload request until the pool's new generation serves alone.",
  ),
  loopDelay: metric(
    'appd_worker_event_loop_delay_seconds',
    'gauge',
    ['pool', 'slot'],
    "The 99th percentile of the event-loop delay over the worker's last heartbeat interval (the worst worker of the slot while two overlap).",
  ),
  residentMemory: metric(
    'appd_worker_resident_memory_bytes',
    'gauge',
    ['pool', 'slot'],
    "Resident memory of the slot's workers, read by the master from /proc.",
  ),
  workerCpu: metric(
    'appd_worker_cpu_seconds_total',
    'counter',
    ['pool', 'slot'],
    "CPU time used by the slot's workers, read by the master from /proc; it carries on across the slot's replacements.",
  ),
  listenQueue: metric(
    'appd_listen_queue',
    'gauge',
    ['bind'],
    'Connections waiting in the accept queue of a listening TCP socket (the saturation signal: workers are not accepting fast enough).',
  ),
  listenQueueMax: metric(
    'appd_listen_queue_max',
    'gauge',
    ['bind'],
    "The accept queue's length limit (the backlog, capped by net.core.somaxconn).",
  ),
  generation: metric('appd_generation', 'gauge', ['pool'], 'The generation the pool runs (bumped on each reload).'),
  info: metric('appd_info', 'gauge', ['version', 'node'], 'Always 1; the labels say which appd and Node the master runs.'),
  up: metric('appd_up', 'gauge', [], 'Always 1 while the master answers.'),
  processCpu: metric('process_cpu_seconds_total', 'counter', [], 'CPU time of the master process (user and system).'),
  processResident: metric('process_resident_memory_bytes', 'gauge', [], 'Resident memory of the master process.'),
  processVirtual: metric('process_virtual_memory_bytes', 'gauge', [], 'Virtual memory of the master process.'),
  processStart: metric('process_start_time_seconds', 'gauge', [], 'When the master process started, in seconds since the epoch.'),
  processOpenFds: metric('process_open_fds', 'gauge', [], 'File descriptors the master has open.'),
  processMaxFds: metric('process_max_fds', 'gauge', [], "The master's file descriptor limit."),
  nodeHeapUsed: metric('nodejs_heap_size_used_bytes', 'gauge', [], 'V8 heap in use in the master.'),
  nodeHeapTotal: metric('nodejs_heap_size_total_bytes', 'gauge', [], 'V8 heap reserved by the master.'),
  nodeExternal: metric(
    'nodejs_external_memory_bytes',
    'gauge',
    [],
    "Memory of the master's buffers and other objects outside the V8 heap.",
  ),
} as const;

export const METRIC_LIST: readonly MetricSpec[] = Object.values(METRICS);
