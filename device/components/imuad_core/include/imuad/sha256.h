// SHA-256 (FIPS 180-4), portable and allocation-free: checks a model loaded at run time against
// the digest its MODEL_BEGIN frame announced (docs/contracts.md C7).
#pragma once

#include <cstddef>
#include <cstdint>

namespace imuad {

class Sha256 {
 public:
  Sha256() { reset(); }
  void reset();
  void update(const uint8_t* data, size_t len);
  void finish(uint8_t digest[32]);

  static void digest(const uint8_t* data, size_t len, uint8_t out[32]) {
    Sha256 h;
    h.update(data, len);
    h.finish(out);
  }

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint64_t bytes_ = 0;
  uint8_t buf_[64];
  size_t fill_ = 0;
};

}  // namespace imuad
