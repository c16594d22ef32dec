// The check that the admin listener (--metrics-bind) has an address of its own, apart from the app's
// binds: made at start and by --check-config, without loading the listener itself. Run by the appd master.

import type { BindAddress } from '../../shared/bind-address.js';
import { ConfigError } from '../../shared/errors.js';

/** Never on the app's sockets: a metrics-bind equal to a bind (same unix path, or same TCP port on an overlapping host) is refused. */
export function checkMetricsBind(metricsBind: BindAddress | null, binds: readonly BindAddress[]): void {
  if (metricsBind === null) return;
  const anyHost = (host: string | null): boolean => host === null || host === '0.0.0.0' || host === '::';
  for (const bind of binds) {
    const clash =
      metricsBind.kind === 'unix'
        ? bind.kind === 'unix' && bind.path === metricsBind.path
        : metricsBind.kind === 'tcp' &&
          bind.kind === 'tcp' &&
          bind.port !== 0 &&
          bind.port === metricsBind.port &&
          (anyHost(bind.host) || anyHost(metricsBind.host) || bind.host === metricsBind.host);
    if (clash)
      throw new ConfigError(
        `metrics-bind ${metricsBind.text} is also a bind of the app (${bind.text}); give the admin listener its own address`,
      );
  }
}
