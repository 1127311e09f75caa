/* The sandbox process of every pod on the test node (issue 15): containerd starts it first in
 * each pod, so it holds the pod's namespaces while containers come and go. As PID 1 of the pod
 * it must reap orphans, and it must exit promptly when the kubelet stops the sandbox.
 * Built static (gcc -Os -static) by test/k8s/node/build.sh, so its image needs no libc. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int signo) {
  (void)signo;
  _exit(0);
}

static void on_child(int signo) {
  (void)signo;
  /* Several children may have ended behind one signal. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static int install(int signo, void (*handler)(int), int flags) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  return sigaction(signo, &action, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("runlet pause 1");
    return 0;
  }
  if (getpid() != 1) {
    fputs("pause: not PID 1 of its namespace; orphans will not be reaped here\n", stderr);
  }
  if (install(SIGTERM, on_stop, 0) != 0 || install(SIGINT, on_stop, 0) != 0 ||
      install(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) {
    pause();
  }
}
