#include "posix_board.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace imuad_host {

static uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t PosixBoard::micros() { return static_cast<uint32_t>(now_ns() / 1000u); }
uint32_t PosixBoard::millis() { return static_cast<uint32_t>(now_ns() / 1000000u); }

int PosixBoard::read(uint8_t* buf, size_t cap) {
  if (closed_) return -1;
  pollfd p{in_, POLLIN, 0};
  const int r = ::poll(&p, 1, 100);
  if (r == 0) return 0;
  if (r < 0) return errno == EINTR ? 0 : -1;
  const ssize_t n = ::read(in_, buf, cap);
  if (n < 0) return (errno == EINTR || errno == EAGAIN) ? 0 : -1;
  if (n == 0) return -1;  // EOF: the host closed the line
  return static_cast<int>(n);
}

void PosixBoard::write(const uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(out_, data, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      closed_ = true;  // reader gone
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

void PosixBoard::log(int level, const char* message) {
  static const char* const kLevels[] = {"E", "W", "I", "D"};
  fprintf(stderr, "imuad-fw-host %s: %s\n", kLevels[(level < 0 || level > 3) ? 3 : level], message);
}

PosixBoard::PosixBoard(int in_fd, int out_fd, bool exit_on_bye, const char* state_dir)
    : in_(in_fd), out_(out_fd), exit_on_bye_(exit_on_bye), state_dir_(state_dir),
      slot_(static_cast<uint8_t*>(aligned_alloc(16, kSlotBytes)), kSlotBytes) {}

PosixBoard::~PosixBoard() { free(const_cast<uint8_t*>(slot_.map())); }

namespace {

bool calibration_path(const char* dir, const uint8_t* sha, char* out, size_t cap) {
  if (dir == nullptr) return false;
  int o = snprintf(out, cap, "%s/calibration-", dir);
  for (int i = 0; i < 32 && o > 0 && static_cast<size_t>(o) < cap; ++i) o += snprintf(out + o, cap - static_cast<size_t>(o), "%02x", sha[i]);
  return o > 0 && static_cast<size_t>(o) + 5 < cap && snprintf(out + o, cap - static_cast<size_t>(o), ".bin") == 4;
}

}  // namespace

bool PosixBoard::save_calibration(const uint8_t* sha, const uint8_t* blob, size_t len) {
  const bool kept = Board::save_calibration(sha, blob, len);  // memory: the last one, until exit
  if (state_dir_ == nullptr) return kept;
  char path[512], tmp[520];
  if (!calibration_path(state_dir_, sha, path, sizeof(path))) return false;
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE* f = fopen(tmp, "wb");
  if (f == nullptr) return false;
  const bool ok = fwrite(blob, 1, len, f) == len;
  if (fclose(f) != 0 || !ok) return false;
  return rename(tmp, path) == 0;  // a crash mid-write never leaves half a calibration
}

bool PosixBoard::load_calibration(const uint8_t* sha, uint8_t* blob, size_t len) {
  if (Board::load_calibration(sha, blob, len)) return true;  // saved in this run
  char path[512];
  if (!calibration_path(state_dir_, sha, path, sizeof(path))) return false;
  FILE* f = fopen(path, "rb");
  if (f == nullptr) return false;
  uint8_t extra;
  const bool ok = fread(blob, 1, len, f) == len && fread(&extra, 1, 1, f) == 0;  // exactly len bytes
  fclose(f);
  return ok;
}

}  // namespace imuad_host
