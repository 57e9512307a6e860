// imuad-codec-echo: decodes frames from stdin, re-encodes each valid one unchanged on stdout;
// at EOF writes one STATS frame (type 0x09) carrying the decoder's counters. A MODEL_BEGIN is
// parsed and encoded again by the core (imuad/model_upload.h), or answered with ERROR(MODEL)
// saying why the core refuses it. Used by the Python <-> C++ cross tests of the codec.
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "imuad/codec.h"
#include "imuad/model_upload.h"
#include "imuad/protocol.h"

using namespace imuad;

static void out(const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(1, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

int main() {
  static FrameDecoder decoder;
  static uint8_t in[4096], tx[kMaxEncoded + 2];
  for (;;) {
    const ssize_t n = ::read(0, in, sizeof in);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (decoder.push(in[i])) {
        const Frame& f = decoder.frame();
        if (f.type == kModelBegin) {
          ModelHeader h;
          char why[128] = {};
          if (parse_model_begin(f.payload, f.len, &h, why, sizeof why)) {
            uint8_t enc[kModelBeginLen];
            encode_model_begin(h, enc);
            out(tx, encode_frame(kModelBegin, enc, sizeof enc, tx, sizeof tx));
          } else {
            uint8_t err[1 + sizeof why];
            err[0] = kErrModel;
            size_t n = 0;
            while (n < sizeof why && why[n] != 0) err[1 + n] = static_cast<uint8_t>(why[n]), ++n;
            out(tx, encode_frame(kError, err, 1 + n, tx, sizeof tx));
          }
          continue;
        }
        out(tx, encode_frame(f.type, f.payload, f.len, tx, sizeof tx));
      }
    }
  }
  const DecoderCounters& c = decoder.counters();
  const uint32_t v[12] = {c.frames_ok, c.cobs_error, c.too_short, c.oversized, c.crc_error, c.bad_version, 0, 0, 0, 0, 0, 0};
  uint8_t p[kStatsLen];
  for (int i = 0; i < 12; ++i) put_u32(p + 4 * i, v[i]);
  out(tx, encode_frame(kStats, p, sizeof p, tx, sizeof tx));
  return 0;
}
