// sd_notify(3) without libsystemd and without a child process per message: the protocol is one
// datagram on the AF_UNIX socket named by $NOTIFY_SOCKET. Node has no unix datagram sockets, so
// libc's socket(2) and sendto(2) are called through koffi; the socket is opened once and kept.
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.

import { libc } from '../kernel/libc.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
const SOCKADDR_UN_SIZE = 110;

/** struct sockaddr_un for a path; `@name` is an abstract socket (leading NUL). */
export function sockaddrUn(socketPath: string): { addr: Buffer; len: number } {
  const name = Buffer.from(socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath, 'utf8');
  if (name.length >= SOCKADDR_UN_SIZE - 2) throw new Error(`NOTIFY_SOCKET path too long: ${socketPath}`);
  const addr = Buffer.alloc(SOCKADDR_UN_SIZE);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  // Abstract names are exactly as long as given; paths include their terminating NUL.
  const len = 2 + name.length + (socketPath.startsWith('@') ? 0 : 1);
  return { addr, len };
}

export interface Notifier {
  /** Whether a notification socket is configured (the process runs as a Type=notify service). */
  readonly enabled: boolean;
  /** Send `KEY=VALUE` lines, e.g. {READY: '1', STATUS: 'converged'}. Returns false when not sent. */
  send(state: Record<string, string>): boolean;
  /** The interval at which WATCHDOG=1 must be sent (half of WatchdogSec), or null when off. */
  readonly watchdogMs: number | null;
  close(): void;
}

/** The notifier for $NOTIFY_SOCKET (a no-op when unset). */
export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  const watchdogMs = watchdogInterval(env);
  if (!socketPath) return { enabled: false, watchdogMs, send: () => false, close: () => {} };
  const { addr, len } = sockaddrUn(socketPath);
  const c = libc();
  let fd = -1;
  return {
    enabled: true,
    watchdogMs,
    send(state) {
      if (fd < 0) fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return false;
      // STATUS= is one line: a newline would start another assignment.
      const text = Object.entries(state)
        .map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`)
        .join('\n');
      const buf = Buffer.from(text, 'utf8');
      return c.sendto(fd, buf, buf.length, MSG_NOSIGNAL, addr, len) === buf.length;
    },
    close() {
      if (fd >= 0) c.close(fd);
      fd = -1;
    },
  };
}

/** sd_watchdog_enabled(3): half of $WATCHDOG_USEC, when it is meant for this process. */
export function watchdogInterval(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
