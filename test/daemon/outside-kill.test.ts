// How the master tells an outside kill (replaced at once, no backoff) from a crash or an OOM kill
// (failed starts, backoff): exit codes and crash signals are the program's, SIGKILL is an OOM kill
// when the kernel's OOM counter moved.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { UnaskedExitClassifier } from '../../daemon/workers/outside-kill.js';

test('exit codes and crash signals are crashes; other signals are outside kills', (t) => {
  const classifier = new UnaskedExitClassifier(() => 7);
  t.is(classifier.classify(null), 'crash');
  for (const signal of ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE'] as const) t.is(classifier.classify(signal), 'crash', signal);
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP'] as const) t.is(classifier.classify(signal), 'outside-kill', signal);
});

test('SIGKILL while the kernel counted an OOM kill is out of memory; where the count is unknown, just killed', (t) => {
  let count = 3;
  const classifier = new UnaskedExitClassifier(() => count);
  t.is(classifier.classify('SIGKILL'), 'outside-kill');
  count = 4;
  t.is(classifier.classify('SIGKILL'), 'oom');
  t.is(classifier.classify('SIGKILL'), 'outside-kill', 'one OOM kill is blamed for one SIGKILL');
  t.is(new UnaskedExitClassifier(() => null).classify('SIGKILL'), 'killed');
});

test('this kernel exposes the OOM counter the classifier reads', (t) => {
  t.regex(readFileSync('/proc/vmstat', 'utf8'), /^oom_kill \d+$/m);
});
