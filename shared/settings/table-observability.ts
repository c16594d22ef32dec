// Settings table, part 3: what appd tells the outside about itself (the admin listener with /metrics and
// health endpoints, the log format). Read by the appd master; flags, keys and man pages derive from it.

import { defineSetting } from './define.js';
import { kinds } from './kinds.js';

export const OBSERVABILITY_SETTINGS = [
  defineSetting({
    key: 'logFormat',
    section: 'Logging',
    kind: kinds.enumOf(['text', 'json']),
    default: 'text',
    reload: 'live',
    summary: "How the master writes its log and the workers' relayed output: text lines, or one JSON object per line.",
    doc: 'json writes {"time","level","pool","slot","generation","pid","message"} per line (pool, slot and generation null for the master\'s own lines; level stdout or stderr for a worker\'s output), every value escaped by JSON itself, for log shippers that parse JSON. The access log has its own JSON form: access-log-format json.',
  }),
  defineSetting({
    key: 'metricsBind',
    section: 'Metrics',
    kind: kinds.optionalListenAddress,
    default: null,
    reload: 'restart',
    summary: 'Serve /metrics (Prometheus), /livez, /readyz and /startupz at this address (HOST:PORT or unix:PATH); off by default.',
    doc: 'The master answers these itself, from its own event loop, never through a worker, so a busy worker cannot delay a probe. Anyone who can reach the address can read the metrics (pool names, bind addresses, versions): put it on 127.0.0.1, a private interface or a unix socket, not on a public address. It must differ from every bind. The listener has its own small limits (16 connections, 8 KiB of headers, 10 s per request), so scrapers cannot grow the master. See README "Metrics and health".',
  }),
] as const;
