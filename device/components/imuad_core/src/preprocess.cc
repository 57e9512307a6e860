#include "imuad/preprocess.h"

namespace imuad {

void preprocess_window(const PreprocessSpec& p, const int16_t* raw, int window, int channels, int8_t* out) {
  for (int t = 0; t < window; ++t) {
    preprocess_sample(p, raw + t * channels, channels, out + t * channels);
  }
}

}  // namespace imuad
