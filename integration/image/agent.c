/*
 * blockyard-agent: the guest side of the VM harness's command channel (integration/harness/agent-protocol.ts
 * is the host side and documents the frames). PID 1 of the test VM after init has set the guest up.
 *
 * It opens the serial port once, puts it in raw mode and only then announces READY: the 8250 driver drops
 * bytes that arrive before the port is opened, so the host sends nothing until it has seen READY.
 * Commands arrive as argument arrays and are exec'ed directly (never through a shell), each in a session
 * of its own so a timeout kills the whole process group. Several commands may run at once.
 *
 * Being PID 1 it also reaps orphans: waitpid(-1) collects every child, and pids that are not commands
 * are ignored.
 *
 * Built statically on the host by build.sh (cc -static), so the image needs no C runtime beyond its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAGIC0 0x42 /* 'B' */
#define MAGIC1 0x59 /* 'Y' */
#define HEADER 12
#define MAX_PAYLOAD (1u << 20)
#define MAX_JOBS 64
#define MAX_ARGS 4096
/* After the command's own process has exited, how long its pipes may stay open (held by a daemon it
 * started) before the result is sent anyway. */
#define GRACE_MS 1000

enum { T_READY = 1, T_EXEC = 2, T_STDOUT = 3, T_STDERR = 4, T_EXIT = 5, T_ERROR = 6 };

struct job {
  int used;
  uint32_t id;
  pid_t pid;
  int out, err;         /* pipe read ends, -1 once at EOF */
  int exited, status;   /* waitpid status once exited */
  int timed_out;
  int64_t deadline;     /* ms, monotonic; 0 = none */
  int64_t grace_until;  /* ms, set when the process exited with pipes still open */
};

static int chan = -1;
static struct job jobs[MAX_JOBS];

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void write_all(const void *buf, size_t len) {
  const unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = write(chan, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* The channel is the agent's only purpose: without it there is nothing left to do. */
      fprintf(stderr, "blockyard-agent: write: %s\n", strerror(errno));
      _exit(1);
    }
    p += n;
    len -= (size_t)n;
  }
}

static void send_frame(int type, uint32_t id, const void *data, uint32_t len) {
  unsigned char h[HEADER] = {MAGIC0, MAGIC1, (unsigned char)type, 0};
  put32(h + 4, id);
  put32(h + 8, len);
  write_all(h, HEADER);
  if (len) write_all(data, len);
}

static void send_text(int type, uint32_t id, const char *text) {
  send_frame(type, id, text, (uint32_t)strlen(text));
}

static struct job *find_job(uint32_t id) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && jobs[i].id == id) return &jobs[i];
  return NULL;
}

/* EXEC payload: u32 timeoutMs, u32 argc, then argc × (u32 length, bytes). */
static void start_job(uint32_t id, const unsigned char *p, uint32_t len) {
  char msg[512];
  if (find_job(id)) {
    snprintf(msg, sizeof msg, "command id %u is already running", id);
    send_text(T_ERROR, id, msg);
    return;
  }
  struct job *j = NULL;
  for (int i = 0; i < MAX_JOBS && !j; i++)
    if (!jobs[i].used) j = &jobs[i];
  if (!j) {
    send_text(T_ERROR, id, "too many commands running at once");
    return;
  }
  /* Every way out goes through `done`: argv freed (calloc'd, so unset entries are NULL), `why` sent. */
  const char *why = NULL;
  char **argv = NULL;
  uint32_t argc = 0;
  const char *malformed = "malformed EXEC frame";
  if (len < 8) {
    why = malformed;
    goto done;
  }
  uint32_t timeout = get32(p);
  argc = get32(p + 4);
  if (argc == 0 || argc > MAX_ARGS) {
    why = malformed;
    goto done;
  }
  argv = calloc(argc + 1, sizeof *argv);
  if (!argv) {
    why = "out of memory";
    goto done;
  }
  uint32_t off = 8;
  for (uint32_t i = 0; i < argc; i++) {
    why = malformed;
    if (len - off < 4) goto done;
    uint32_t n = get32(p + off);
    off += 4;
    if (len - off < n || memchr(p + off, 0, n)) goto done;
    argv[i] = strndup((const char *)p + off, n);
    why = "out of memory";
    if (!argv[i]) goto done;
    off += n;
  }
  why = malformed;
  if (off != len) goto done;
  why = NULL;

  int out[2], err[2], st[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(st, O_CLOEXEC)) {
    snprintf(msg, sizeof msg, "pipe: %s", strerror(errno));
    why = msg;
    goto done; /* out of fds: a few more leaked here change nothing */
  }
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setsid();
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvp(argv[0], argv);
    int e = errno;
    (void)!write(st[1], &e, sizeof e);
    _exit(127);
  }
  int fork_errno = errno;
  close(out[1]);
  close(err[1]);
  close(st[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    close(st[0]);
    snprintf(msg, sizeof msg, "fork: %s", strerror(fork_errno));
    why = msg;
    goto done;
  }
  /* The status pipe closes on a successful exec (O_CLOEXEC) or carries exec's errno. */
  int e = 0;
  ssize_t n;
  do n = read(st[0], &e, sizeof e); while (n < 0 && errno == EINTR);
  close(st[0]);
  if (n == (ssize_t)sizeof e) {
    close(out[0]);
    close(err[0]);
    /* The child is reaped by the SIGCHLD handling; no job refers to it. */
    snprintf(msg, sizeof msg, "exec %.200s: %s", argv[0], strerror(e));
    why = msg;
    goto done;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  memset(j, 0, sizeof *j);
  j->used = 1;
  j->id = id;
  j->pid = pid;
  j->out = out[0];
  j->err = err[0];
  j->deadline = timeout ? now_ms() + timeout : 0;
done:
  if (argv)
    for (uint32_t i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  if (why) send_text(T_ERROR, id, why);
}

static void finish_if_done(struct job *j, int force) {
  if (!j->exited || (!force && (j->out >= 0 || j->err >= 0))) return;
  if (j->out >= 0) close(j->out);
  if (j->err >= 0) close(j->err);
  unsigned char p[9];
  int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1;
  int sig = WIFSIGNALED(j->status) ? WTERMSIG(j->status) : 0;
  put32(p, (uint32_t)code);
  put32(p + 4, (uint32_t)sig);
  p[8] = (unsigned char)j->timed_out;
  send_frame(T_EXIT, j->id, p, sizeof p);
  j->used = 0;
}

static void drain(struct job *j, int *fd, int type) {
  static unsigned char buf[65536];
  for (;;) {
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) {
      send_frame(type, j->id, buf, (uint32_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    close(*fd);
    *fd = -1;
    return;
  }
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used || j->pid != pid) continue;
      j->exited = 1;
      j->status = status;
      /* Output already written is in the pipes: read it before deciding the result is complete. */
      if (j->out >= 0) drain(j, &j->out, T_STDOUT);
      if (j->err >= 0) drain(j, &j->err, T_STDERR);
      if (j->out >= 0 || j->err >= 0) j->grace_until = now_ms() + GRACE_MS;
      finish_if_done(j, 0);
    }
  }
}

static void set_raw(const char *path) {
  struct termios t;
  if (tcgetattr(chan, &t)) {
    fprintf(stderr, "blockyard-agent: %s is not a terminal: %s\n", path, strerror(errno));
    return;
  }
  cfmakeraw(&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~CRTSCTS;
  cfsetispeed(&t, B115200);
  cfsetospeed(&t, B115200);
  tcsetattr(chan, TCSANOW, &t);
  tcflush(chan, TCIOFLUSH);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/dev/ttyS1";
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  /* "-": the channel is stdin, a socket: how the host's tests drive the agent without a VM. */
  chan = strcmp(path, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (chan < 0) {
    fprintf(stderr, "blockyard-agent: open %s: %s\n", path, strerror(errno));
    for (;;) pause(); /* PID 1 must not exit; the host's readiness wait times out with the console log */
  }
  if (strcmp(path, "-") != 0) set_raw(path);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);

  FILE *up = fopen("/proc/uptime", "r");
  char uptime[64] = "?";
  if (up) {
    if (fscanf(up, "%63s", uptime) != 1) strcpy(uptime, "?");
    fclose(up);
  }
  const char *init_errors = getenv("BLOCKYARD_INIT_ERRORS");
  char ready[4096];
  snprintf(ready, sizeof ready, "version=1\nuptime=%s\ninit_errors=%s\n", uptime, init_errors ? init_errors : "");
  send_text(T_READY, 0, ready);

  unsigned char *in = malloc(HEADER + MAX_PAYLOAD);
  size_t have = 0;
  struct pollfd fds[2 + 2 * MAX_JOBS];
  struct job *owner[2 + 2 * MAX_JOBS];
  int kind[2 + 2 * MAX_JOBS];
  for (;;) {
    int nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = chan, .events = POLLIN};
    fds[nfds++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    int64_t now = now_ms(), wake = -1;
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used) continue;
      if (j->out >= 0) { owner[nfds] = j; kind[nfds] = T_STDOUT; fds[nfds++] = (struct pollfd){.fd = j->out, .events = POLLIN}; }
      if (j->err >= 0) { owner[nfds] = j; kind[nfds] = T_STDERR; fds[nfds++] = (struct pollfd){.fd = j->err, .events = POLLIN}; }
      int64_t t = j->exited ? j->grace_until : (j->timed_out ? 0 : j->deadline);
      if (t && (wake < 0 || t < wake)) wake = t;
    }
    int timeout = wake < 0 ? -1 : (wake <= now ? 0 : (int)(wake - now));
    int r = poll(fds, (nfds_t)nfds, timeout);
    if (r < 0 && errno != EINTR) {
      fprintf(stderr, "blockyard-agent: poll: %s\n", strerror(errno));
      return 1;
    }
    for (int k = 2; r > 0 && k < nfds; k++) {
      if (!fds[k].revents || !owner[k]->used) continue;
      struct job *j = owner[k];
      if (kind[k] == T_STDOUT && j->out >= 0) drain(j, &j->out, T_STDOUT);
      if (kind[k] == T_STDERR && j->err >= 0) drain(j, &j->err, T_STDERR);
      finish_if_done(j, 0);
    }
    if (r > 0 && fds[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      reap();
    }
    now = now_ms();
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used) continue;
      if (!j->exited && !j->timed_out && j->deadline && now >= j->deadline) {
        j->timed_out = 1;
        kill(-j->pid, SIGKILL);
        kill(j->pid, SIGKILL);
      }
      if (j->exited && j->grace_until && now >= j->grace_until) finish_if_done(j, 1);
    }
    if (r > 0 && fds[0].revents) {
      ssize_t n = read(chan, in + have, HEADER + MAX_PAYLOAD - have);
      if (n < 0 && errno != EINTR && errno != EAGAIN) {
        fprintf(stderr, "blockyard-agent: read: %s\n", strerror(errno));
        return 1;
      }
      if (n == 0) return 0; /* the host closed the channel (a hangup on a tty) */
      if (n > 0) have += (size_t)n;
      for (;;) {
        if (have >= 2 && (in[0] != MAGIC0 || in[1] != MAGIC1)) {
          /* Out of step: drop bytes up to the next magic and say so once per loss. */
          size_t skip = 1;
          while (skip + 1 < have && !(in[skip] == MAGIC0 && in[skip + 1] == MAGIC1)) skip++;
          memmove(in, in + skip, have - skip);
          have -= skip;
          send_text(T_ERROR, 0, "bad frame magic: bytes skipped");
          continue;
        }
        if (have < HEADER) break;
        uint32_t id = get32(in + 4), len = get32(in + 8);
        if (len > MAX_PAYLOAD) {
          send_text(T_ERROR, 0, "frame too large: dropped the header");
          memmove(in, in + 2, have - 2);
          have -= 2;
          continue;
        }
        if (have < HEADER + len) break;
        if (in[2] == T_EXEC) start_job(id, in + HEADER, len);
        else send_text(T_ERROR, id, "unknown frame type");
        memmove(in, in + HEADER + len, have - HEADER - len);
        have -= HEADER + len;
      }
    }
  }
}
