#include <vector>

#include "check.h"
#include "imuad/windower.h"

using namespace imuad;

// Window j covers samples [j*H, j*H+W) and completes at sample j*H+W-1 (contracts C2).
static void check_geometry(uint16_t W, uint16_t H, uint8_t C, int n_samples) {
  std::vector<int16_t> ring(W * C);
  Windower w;
  CHECK(w.init(ring.data(), ring.size(), W, H, C));
  uint32_t expect_j = 0;
  for (int i = 0; i < n_samples; ++i) {
    int16_t s[8];
    for (int c = 0; c < C; ++c) s[c] = static_cast<int16_t>(i * 10 + c);
    const bool done = w.push(s);
    const bool want = i >= W - 1 && (i - (W - 1)) % H == 0;
    CHECK_EQ(done, want);
    if (done) {
      CHECK_EQ(w.window_index(), expect_j);
      for (uint16_t t = 0; t < W; ++t) {
        for (int c = 0; c < C; ++c) CHECK_EQ(w.sample(t)[c], static_cast<int16_t>((expect_j * H + t) * 10 + c));
      }
      ++expect_j;
    }
  }
}

int main() {
  check_geometry(4, 2, 1, 50);
  check_geometry(5, 5, 3, 60);   // hop == window
  check_geometry(3, 7, 2, 60);   // hop > window (samples between windows skipped)
  check_geometry(32, 16, 3, 500);
  check_geometry(7, 1, 8, 100);  // every sample completes a window, max channels
  // reset restarts window indices at the next sample
  std::vector<int16_t> ring(6);
  Windower w;
  CHECK(w.init(ring.data(), ring.size(), 3, 1, 2));
  int16_t s[2] = {1, 2};
  for (int i = 0; i < 5; ++i) w.push(s);
  CHECK_EQ(w.window_index(), 2);
  w.reset();
  CHECK(!w.push(s));
  CHECK(!w.push(s));
  CHECK(w.push(s));
  CHECK_EQ(w.window_index(), 0);
  // too small storage / zero sizes are rejected
  CHECK(!w.init(ring.data(), 5, 3, 1, 2));
  CHECK(!w.init(ring.data(), 6, 0, 1, 2));
  CHECK(!w.init(ring.data(), 6, 3, 0, 2));
  TEST_MAIN_END();
}
