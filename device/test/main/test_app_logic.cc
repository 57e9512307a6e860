// App logic of device/main (no hardware): sample hand-off ring and console mode switching.
#include <cstring>
#include <vector>

#include "app_logic.h"
#include "imuad/codec.h"
#include "imuad/protocol.h"
#include "unity.h"

using imuad_app::ConsoleMode;
using imuad_app::SampleRing;

namespace {

std::vector<uint8_t> frame(uint8_t type, const uint8_t* payload = nullptr, size_t len = 0) {
  std::vector<uint8_t> out(imuad::kMaxEncoded + 1);
  out.resize(imuad::encode_frame(type, payload, len, out.data(), out.size()));
  return out;
}

void test_ring_fifo_order_and_wrap() {
  int16_t storage[5 * 3];
  SampleRing ring;
  ring.init(storage, 5, 3);  // 4 usable slots
  int16_t in[3], out[3];
  for (int round = 0; round < 10; ++round) {  // wraps around several times
    for (int i = 0; i < 3; ++i) {
      in[0] = static_cast<int16_t>(round * 10 + i);
      in[1] = static_cast<int16_t>(-in[0]);
      in[2] = 7;
      TEST_ASSERT_TRUE(ring.push(in));
    }
    TEST_ASSERT_EQUAL_UINT(3, ring.size());
    for (int i = 0; i < 3; ++i) {
      TEST_ASSERT_TRUE(ring.pop(out));
      TEST_ASSERT_EQUAL_INT16(round * 10 + i, out[0]);
      TEST_ASSERT_EQUAL_INT16(-(round * 10 + i), out[1]);
    }
    TEST_ASSERT_FALSE(ring.pop(out));
  }
  TEST_ASSERT_EQUAL_UINT32(0, ring.dropped());
}

void test_ring_full_drops_newest_and_counts() {
  int16_t storage[4 * 1];
  SampleRing ring;
  ring.init(storage, 4, 1);
  for (int16_t v = 0; v < 6; ++v) ring.push(&v);
  TEST_ASSERT_EQUAL_UINT(3, ring.size());
  TEST_ASSERT_EQUAL_UINT32(3, ring.dropped());
  int16_t out;
  TEST_ASSERT_TRUE(ring.pop(&out));
  TEST_ASSERT_EQUAL_INT16(0, out);  // oldest kept, newest dropped
  ring.clear();
  TEST_ASSERT_EQUAL_UINT(0, ring.size());
  TEST_ASSERT_FALSE(ring.pop(&out));
}

void test_console_hello_enters_replay_bye_leaves() {
  ConsoleMode mode(1000);
  const char garbage[] = "rst:0x1 (POWERON_RESET),boot:0x13\r\nI (31) boot: ESP-IDF\r\n";
  TEST_ASSERT_FALSE(mode.feed(reinterpret_cast<const uint8_t*>(garbage), sizeof garbage - 1, 0));
  TEST_ASSERT_FALSE(mode.replay());
  const uint8_t zero = 0;
  mode.feed(&zero, 1, 1);  // the host's leading delimiter ends the garbage
  auto hello = frame(imuad::kHello);
  TEST_ASSERT_TRUE(mode.feed(hello.data(), hello.size(), 2));
  TEST_ASSERT_TRUE(mode.replay());
  TEST_ASSERT_EQUAL_UINT32(1, mode.hellos());
  auto stats = frame(imuad::kStatsReq);
  TEST_ASSERT_FALSE(mode.feed(stats.data(), stats.size(), 3));
  TEST_ASSERT_TRUE(mode.replay());
  auto bye = frame(imuad::kBye);
  TEST_ASSERT_TRUE(mode.feed(bye.data(), bye.size(), 4));
  TEST_ASSERT_FALSE(mode.replay());
}

void test_console_corrupt_hello_is_ignored() {
  ConsoleMode mode(1000);
  auto hello = frame(imuad::kHello);
  hello[2] ^= 0x40;  // CRC no longer matches
  TEST_ASSERT_FALSE(mode.feed(hello.data(), hello.size(), 0));
  TEST_ASSERT_FALSE(mode.replay());
}

void test_console_idle_timeout_returns_to_live() {
  ConsoleMode mode(500);
  auto hello = frame(imuad::kHello);
  mode.feed(hello.data(), hello.size(), 100);
  TEST_ASSERT_FALSE(mode.tick(500));
  TEST_ASSERT_TRUE(mode.replay());
  auto stats = frame(imuad::kStatsReq);
  mode.feed(stats.data(), stats.size(), 550);  // any valid frame keeps replay alive
  TEST_ASSERT_FALSE(mode.tick(1000));
  TEST_ASSERT_TRUE(mode.tick(1100));
  TEST_ASSERT_FALSE(mode.replay());
}

}  // namespace

extern "C" void run_app_logic_tests(void) {
  RUN_TEST(test_ring_fifo_order_and_wrap);
  RUN_TEST(test_ring_full_drops_newest_and_counts);
  RUN_TEST(test_console_hello_enters_replay_bye_leaves);
  RUN_TEST(test_console_corrupt_hello_is_ignored);
  RUN_TEST(test_console_idle_timeout_returns_to_live);
}
