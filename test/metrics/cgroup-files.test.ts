// Reading cgroup limits from directory trees laid out like / on a cgroup v2 host (a container with
// its own cgroup namespace, a systemd unit with CPUQuota=) and a hybrid v1 host, and blaming SIGKILLs
// on the OOM killer by the worker's cgroup counter.

import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { autoWorkerCount } from '../../daemon/container/cpu-limit.js';
import { memoryLimit } from '../../daemon/container/memory-limit.js';
import { UnaskedExitClassifier } from '../../daemon/workers/outside-kill.js';
import { tempDirectory } from '../helpers/daemon.js';

function lay(root: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const V2_MOUNT = '30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n';

test('cgroup v2 (systemd CPUQuota=50%): 1 worker on 4 CPUs; the tightest ancestor wins; memory.max', (t) => {
  const root = lay(tempDirectory(t), {
    '/proc/self/cgroup': '0::/system.slice/app.service\n',
    '/proc/self/mountinfo': V2_MOUNT,
    '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n',
    '/sys/fs/cgroup/system.slice/cpu.max': '300000 100000\n',
    '/sys/fs/cgroup/system.slice/app.service/cpu.max': '50000 100000\n',
    '/sys/fs/cgroup/system.slice/app.service/memory.max': '268435456\n',
    '/sys/fs/cgroup/system.slice/memory.max': 'max\n',
  });
  const auto = autoWorkerCount(root, 4);
  t.is(auto.count, 1);
  t.regex(
    auto.explanation,
    /^1: the cgroup v2 CPU quota of 0\.5 CPU \(cpu\.max "50000 100000" at \/sys\/fs\/cgroup\/system\.slice\/app\.service\), rounded up; 4 CPUs/,
  );
  t.deepEqual(memoryLimit(root), { bytes: 268435456, file: '/sys/fs/cgroup/system.slice/app.service/memory.max' });
  writeFileSync(join(root, '/sys/fs/cgroup/system.slice/app.service/cpu.max'), 'max 100000\n');
  t.is(autoWorkerCount(root, 4).count, 3, "the parent slice's 3 CPUs");
});

test('a container with its own cgroup namespace: the path is relative to the mounted root; 2.5 CPUs give 3 workers of 8', (t) => {
  const root = lay(tempDirectory(t), {
    '/proc/self/cgroup': '0::/\n',
    '/proc/self/mountinfo': '1 0 0:27 /kubepods/pod1/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n',
    '/sys/fs/cgroup/cgroup.controllers': 'cpu memory\n',
    '/sys/fs/cgroup/cpu.max': '250000 100000\n',
  });
  t.is(autoWorkerCount(root, 8).count, 3);
  t.is(autoWorkerCount(root, 2).count, 2, 'never more than the CPUs it may run on');
  t.is(memoryLimit(root), null);
});

test('hybrid v1 host (cpu and memory on v1, a cgroup2 with hugetlb only): v1 files; no quota means the CPU count', (t) => {
  const root = lay(tempDirectory(t), {
    '/proc/self/cgroup': '4:memory:/box\n1:cpu:/box/app\n0::/\n',
    '/proc/self/mountinfo':
      '31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n',
    '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
    '/sys/fs/cgroup/cpu/box/app/cpu.cfs_quota_us': '50000\n',
    '/sys/fs/cgroup/cpu/box/app/cpu.cfs_period_us': '100000\n',
    '/sys/fs/cgroup/memory/box/memory.limit_in_bytes': '9223372036854771712\n',
  });
  const auto = autoWorkerCount(root, 2);
  t.is(auto.count, 1);
  t.regex(
    auto.explanation,
    /cgroup v1 CPU quota of 0\.5 CPU \(cpu\.cfs_quota_us 50000 \/ cpu\.cfs_period_us 100000 at \/sys\/fs\/cgroup\/cpu\/box\/app\)/,
  );
  t.is(memoryLimit(root), null, 'v1\'s "no limit" is a huge number');
  writeFileSync(join(root, '/sys/fs/cgroup/cpu/box/app/cpu.cfs_quota_us'), '-1\n');
  t.regex(autoWorkerCount(root, 2).explanation, /^2: the 2 CPUs available to the process; no cgroup CPU quota$/);
  t.is(autoWorkerCount(join(root, 'nowhere'), 3).count, 3, 'no /proc, no cgroups: the CPU count');
});

test("a SIGKILL is an OOM kill when the worker's cgroup counted one more than already blamed", (t) => {
  let inCgroup = 2;
  let machine = 10;
  const classifier = new UnaskedExitClassifier(() => machine, {
    of: (pid) => (pid === 99 ? null : { key: '/sys/fs/cgroup/app', count: () => inCgroup }),
  });
  classifier.watch(1);
  classifier.watch(2);
  classifier.watch(99);
  machine = 11; // an OOM kill elsewhere on the machine
  t.is(classifier.classify('SIGKILL', 1), 'outside-kill', "the cgroup counted nothing new: someone else's OOM");
  inCgroup = 3;
  t.is(classifier.classify('SIGKILL', 2), 'oom');
  machine = 12;
  t.is(classifier.classify('SIGKILL', 99), 'oom', 'a worker with no readable cgroup: the machine-wide count decides');
  classifier.watch(3);
  t.is(classifier.classify('SIGKILL', 3), 'outside-kill', 'the kill already blamed is not blamed twice');
});
