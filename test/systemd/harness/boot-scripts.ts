// The shell scripts behind the real-systemd sandbox: the namespace's first process, which builds a
// copy-on-write root and execs systemd as PID 1, and the reaper, which removes every trace when the test
// process goes away however it ends. Written into the sandbox's directory by sandbox.ts; run as root.

/** Where the project checkout and the test's Node appear inside (read-only bind mounts). */
export const PROJECT_INSIDE = '/opt/appd';
export const NODE_INSIDE = '/opt/appd-node/node';

/** Boots only what a service needs: sysinit (journald, tmpfiles) and sockets, not the machine's services. */
export const BOOT_TARGET = 'appd-test.target';

/** A value for a single-quoted shell word. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface InitScriptOptions {
  /** The sandbox's own directory: overlay, payload, console log. */
  readonly base: string;
  readonly project: string;
  /** The Node binary the tests run on (symlinks resolved): the units run it at NODE_INSIDE. */
  readonly node: string;
  /** Runs in a chroot of the new root before systemd boots (users, ownership). */
  readonly setup: string;
}

/**
 * PID 1 of the new pid namespace, in its own mount namespace: an overlay of the host's root file system
 * (only the root file system, read-only underneath; writes go to a tmpfs that dies with the namespace),
 * fresh /proc, /sys read-only, a private cgroup2 (the namespace's cgroup root), a minimal /dev and /run,
 * then pivot_root and exec systemd, which boots BOOT_TARGET only.
 */
export function initScript({ base, project, node, setup }: InitScriptOptions): string {
  return `#!/bin/sh
set -eu
B=${shellQuote(base)}
R="$B/root"
mount --make-rprivate /
mkdir -p "$B/overlay" "$B/lower" "$R"
mount -t tmpfs -o mode=755,size=2G tmpfs "$B/overlay"
mkdir "$B/overlay/upper" "$B/overlay/work"
mount --bind / "$B/lower"
mount -o remount,bind,ro "$B/lower"
mount -t overlay overlay -o "lowerdir=$B/lower,upperdir=$B/overlay/upper,workdir=$B/overlay/work" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid,size=16M tmpfs "$R/dev"
for entry in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name major minor <<EOF
$entry
EOF
  mknod -m 666 "$R/dev/$name" c "$major" "$minor"
done
mkdir -m 755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
: > "$B/console.log"
touch "$R/dev/console"
mount --bind "$B/console.log" "$R/dev/console"
mount -t tmpfs -o mode=755,nosuid,nodev,size=256M tmpfs "$R/run"
mkdir -p "$R${PROJECT_INSIDE}" "$(dirname "$R${NODE_INSIDE}")"
mount --bind ${shellQuote(project)} "$R${PROJECT_INSIDE}"
mount -o remount,bind,ro "$R${PROJECT_INSIDE}"
touch "$R${NODE_INSIDE}"
mount --bind ${shellQuote(node)} "$R${NODE_INSIDE}"
mount -o remount,bind,ro "$R${NODE_INSIDE}"
cp -a "$B/payload/." "$R/"
cat > "$R/etc/systemd/system/${BOOT_TARGET}" <<'EOF'
[Unit]
Description=appd tests: sysinit and sockets only
Requires=sysinit.target sockets.target
After=sysinit.target sockets.target
AllowIsolate=yes
EOF
chroot "$R" /bin/sh -eu <<'APPD_SETUP_END'
${setup}
APPD_SETUP_END
mkdir "$R/.old-root"
cd "$R"
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
exec env -i container=appd-test TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  /lib/systemd/systemd --unit=${BOOT_TARGET} --log-target=journal-or-kmsg --log-level=info --show-status=no
`;
}

/**
 * Waits for its stdin to close (the test process closed it, or died however it died), then kills what is
 * left in the sandbox's cgroup, removes the cgroup tree and the sandbox's directory. It runs in its own
 * session so that a kill of the test's process group does not take it along.
 */
export function reaperScript(cgroup: string, base: string): string {
  return `cat > /dev/null
C=${shellQuote(cgroup)}
if [ -e "$C/cgroup.kill" ]; then echo 1 > "$C/cgroup.kill" 2>/dev/null || true; fi
tries=0
while [ $tries -lt 100 ]; do
  left=$(find "$C" -name cgroup.procs -exec cat {} + 2>/dev/null || true)
  [ -z "$left" ] && break
  kill -KILL $left 2>/dev/null || true
  sleep 0.1
  tries=$((tries + 1))
done
find "$C" -depth -type d -exec rmdir {} \\; 2>/dev/null || true
rm -rf ${shellQuote(base)}
`;
}
