// imuad-fw-host: the firmware's ReplayApp on POSIX. Frames (docs/contracts.md C7) on
// stdin/stdout, or on a pseudo-terminal with --pty (its path is printed on stdout's first line).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "imuad/boot.h"
#include "imuad/compiled_models.h"
#include "imuad/replay_app.h"
#include "posix_board.h"

namespace {

void usage() {
  fprintf(stderr,
          "usage: imuad-fw-host [--pty] [--exit-on-bye] [--list-models] [--arena BYTES] [--state-dir DIR]\n"
          "  frames on stdin/stdout (default) or on a new pseudo-terminal (--pty prints its path)\n"
          "  --state-dir: keep the device's own calibrations there across restarts (as NVS does)\n");
}

int open_pty() {
  const int fd = posix_openpt(O_RDWR | O_NOCTTY);
  if (fd < 0 || grantpt(fd) != 0 || unlockpt(fd) != 0) return -1;
  termios t;
  const char* slave = ptsname(fd);
  const int s = open(slave, O_RDWR | O_NOCTTY);  // keep one slave fd open: no EIO before the host opens it
  if (s >= 0 && tcgetattr(s, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
  }
  printf("%s\n", slave);
  fflush(stdout);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  bool use_pty = false, exit_on_bye = false, list = false;
  size_t arena_override = 0;
  const char* state_dir = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--pty")) use_pty = true;
    else if (!strcmp(argv[i], "--exit-on-bye")) exit_on_bye = true;
    else if (!strcmp(argv[i], "--list-models")) list = true;
    else if (!strcmp(argv[i], "--arena") && i + 1 < argc) arena_override = strtoul(argv[++i], nullptr, 10);
    else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) state_dir = argv[++i];
    else { usage(); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  const imuad::ModelRegistry models = imuad::compiled_models();
  if (list) {
    for (size_t i = 0; i < models.count; ++i) {
      const imuad::ModelSpec& s = *models.models[i];
      printf("%s window=%u hop=%u channels=%u arena=%u\n", s.name, s.window, s.hop, s.channels,
             static_cast<unsigned>(s.arena_bytes));
    }
    return 0;
  }
  int in_fd = 0, out_fd = 1;
  if (use_pty) {
    in_fd = out_fd = open_pty();
    if (in_fd < 0) {
      perror("imuad-fw-host: pty");
      return 1;
    }
  }
  imuad_host::PosixBoard board(in_fd, out_fd, exit_on_bye, state_dir);
  static imuad::ReplayApp* app;  // static: reachable until exit (no leak report under ASan)
  app = imuad::boot(board, models, std::malloc, arena_override);
  if (app == nullptr) return 1;
  app->begin();
  return app->run();
}
