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
#include <memory>

#include "imuad/compiled_models.h"
#include "imuad/replay_app.h"
#include "posix_board.h"

namespace {

void usage() {
  fprintf(stderr,
          "usage: imuad-fw-host [--pty] [--exit-on-bye] [--list-models] [--arena BYTES]\n"
          "  frames on stdin/stdout (default) or on a new pseudo-terminal (--pty prints its path)\n");
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
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--pty")) use_pty = true;
    else if (!strcmp(argv[i], "--exit-on-bye")) exit_on_bye = true;
    else if (!strcmp(argv[i], "--list-models")) list = true;
    else if (!strcmp(argv[i], "--arena") && i + 1 < argc) arena_override = strtoul(argv[++i], nullptr, 10);
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
  // Memory sized at init from the largest compiled-in model (no allocation afterwards).
  size_t arena_size = 0, ring_len = 0;
  for (size_t i = 0; i < models.count; ++i) {
    const imuad::ModelSpec& s = *models.models[i];
    if (s.arena_bytes > arena_size) arena_size = s.arena_bytes;
    const size_t r = static_cast<size_t>(s.window) * s.channels;
    if (r > ring_len) ring_len = r;
  }
  if (arena_override) arena_size = arena_override;
  std::unique_ptr<uint8_t[]> arena_mem(new uint8_t[arena_size + 16]);
  uint8_t* arena = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(arena_mem.get()) + 15) & ~uintptr_t{15});
  std::unique_ptr<int16_t[]> ring(new int16_t[ring_len > 0 ? ring_len : 1]);

  int in_fd = 0, out_fd = 1;
  if (use_pty) {
    in_fd = out_fd = open_pty();
    if (in_fd < 0) {
      perror("imuad-fw-host: pty");
      return 1;
    }
  }
  imuad_host::PosixBoard board(in_fd, out_fd, exit_on_bye);
  // The app holds a 2 KB decoder and TX buffers: keep it off the stack.
  std::unique_ptr<imuad::ReplayApp> app(new imuad::ReplayApp(board, models, arena, arena_size, ring.get(),
                                                             ring_len));
  app->begin();
  return app->run();
}
