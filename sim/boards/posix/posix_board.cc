#include "posix_board.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imuad/calibration_index.h"

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

constexpr char kPrefix[] = "calibration-";
constexpr size_t kPrefixLen = sizeof kPrefix - 1;
constexpr size_t kNameLen = kPrefixLen + 64 + 4;  // calibration-<sha256 hex>.bin

bool calibration_path(const char* dir, const uint8_t* sha, char* out, size_t cap) {
  if (dir == nullptr) return false;
  int o = snprintf(out, cap, "%s/%s", dir, kPrefix);
  for (int i = 0; i < 32 && o > 0 && static_cast<size_t>(o) < cap; ++i) o += snprintf(out + o, cap - static_cast<size_t>(o), "%02x", sha[i]);
  return o > 0 && static_cast<size_t>(o) + 5 < cap && snprintf(out + o, cap - static_cast<size_t>(o), ".bin") == 4;
}

// A crash mid-write never leaves half a file: write beside it, then rename over it.
bool write_atomically(const char* path, const uint8_t* data, size_t len) {
  char tmp[520];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= static_cast<int>(sizeof(tmp))) return false;
  FILE* f = fopen(tmp, "wb");
  if (f == nullptr) return false;
  const bool ok = fwrite(data, 1, len, f) == len;
  if (fclose(f) != 0 || !ok) return false;
  return rename(tmp, path) == 0;
}

// Calls fn(key, file name) for each calibration file of dir.
template <typename Fn>
void each_calibration(const char* dir, Fn fn) {
  DIR* d = opendir(dir);
  if (d == nullptr) return;
  while (const dirent* e = readdir(d)) {
    uint8_t key[imuad::kCalibrationKeyBytes];
    if (strlen(e->d_name) == kNameLen && strncmp(e->d_name, kPrefix, kPrefixLen) == 0 &&
        strcmp(e->d_name + kNameLen - 4, ".bin") == 0 && imuad::calibration_key_from_hex(e->d_name + kPrefixLen, key)) {
      fn(key, e->d_name);
    }
  }
  closedir(d);
}

// Puts `sha` first in the index (one that is missing or damaged is first rebuilt from the
// calibration files) and removes the calibration files it does not name.
void sweep_calibrations(const char* dir, const uint8_t* sha, imuad::CalibrationIndex* index, const char* index_path) {
  uint8_t raw[imuad::kCalibrationIndexLen + 1];
  FILE* f = fopen(index_path, "rb");
  const size_t got = f != nullptr ? fread(raw, 1, sizeof raw, f) : 0;
  if (f != nullptr) fclose(f);
  if (!index->decode(raw, got)) each_calibration(dir, [&](const uint8_t* key, const char*) { index->add_oldest(key); });
  index->touch(sha);
  each_calibration(dir, [&](const uint8_t* key, const char* name) {
    char path[512];
    if (!index->contains(key) && snprintf(path, sizeof path, "%s/%s", dir, name) < static_cast<int>(sizeof path)) unlink(path);
  });
}

}  // namespace

bool PosixBoard::save_calibration(const uint8_t* sha, const uint8_t* blob, size_t len) {
  const bool kept = Board::save_calibration(sha, blob, len);  // memory: the last one, until exit
  if (state_dir_ == nullptr) return kept;
  char path[512], index_path[512];
  if (!calibration_path(state_dir_, sha, path, sizeof(path))) return false;
  if (snprintf(index_path, sizeof index_path, "%s/%sindex.bin", state_dir_, kPrefix) >= static_cast<int>(sizeof index_path)) return false;
  imuad::CalibrationIndex index;
  sweep_calibrations(state_dir_, sha, &index, index_path);
  uint8_t raw[imuad::kCalibrationIndexLen];
  index.encode(raw);
  return write_atomically(path, blob, len) && write_atomically(index_path, raw, sizeof raw);
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
