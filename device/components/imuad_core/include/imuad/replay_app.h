// The firmware main loop shared by every target: bytes from the Board -> frames -> pipeline ->
// WINDOW_RESULT / EVENT / STATS / DEVICE_INFO / ERROR frames back (docs/contracts.md C7).
#pragma once

#include <cstddef>
#include <cstdint>

#include "imuad/board.h"
#include "imuad/codec.h"
#include "imuad/model_registry.h"
#include "imuad/model_upload.h"
#include "imuad/pipeline.h"
#include "imuad/protocol.h"

namespace imuad {

inline constexpr const char* kFirmwareVersion = "imuad-0.1.0";

struct AppCounters {
  uint32_t unknown_type = 0;
  uint32_t bad_length = 0;
  uint32_t windows = 0;
  uint32_t events = 0;
};

class ReplayApp {
 public:
  // Memory is the caller's (static arrays on MCUs): arena for TFLM, ring for the windower.
  ReplayApp(Board& board, ModelRegistry models, uint8_t* arena, size_t arena_size, int16_t* ring,
            size_t ring_len);

  // Loads the default model (so STATS/DEVICE_INFO work before HELLO). Errors are also sent
  // as ERROR frames.
  Status begin();
  // Reads what the board has and handles every complete frame. false once the line is closed.
  bool poll();
  // poll() until the line closes; returns 0.
  int run();

  // Handles one byte stream chunk directly (tests, MicroPython).
  void feed(const uint8_t* data, size_t len);
  // Handles one decoded frame (tests).
  void handle_frame(uint8_t type, const uint8_t* payload, size_t len);

  const DecoderCounters& decoder_counters() const { return decoder_.counters(); }
  const AppCounters& app_counters() const { return counters_; }
  const Pipeline& pipeline() const { return pipeline_; }
  bool bye_received() const { return bye_; }
  // The model loaded at run time (MODEL_BEGIN..MODEL_END), nullptr if none.
  const ModelSpec* runtime_model() const { return runtime_ok_ ? &runtime_spec_ : nullptr; }

 private:
  Status load(const ModelSpec* spec);
  // A model by HELLO name: the one loaded at run time first (it shadows a compiled-in model of
  // the same name), then the compiled-in ones; an empty name is the compiled-in default.
  const ModelSpec* find_model(const char* name, size_t len) const;
  void select(const ModelSpec* spec);  // HELLO's effect once `spec` is loaded
  void on_hello(const uint8_t* p, size_t len);
  void on_model_begin(const uint8_t* p, size_t len);
  void on_model_chunk(const uint8_t* p, size_t len);
  void on_model_end();
  void abort_upload(const char* fmt, ...);
  void send_ack(uint32_t next_offset);
  void on_samples(const uint8_t* p, size_t len);
  void on_config(const uint8_t* p, size_t len);
  void on_calibrate(const uint8_t* p, size_t len);
  void send_event(uint32_t window, uint8_t kind, int32_t score);
  void send(uint8_t type, const uint8_t* payload, size_t len);
  void send_error(uint8_t code, const char* text);
  void send_device_info();
  void send_stats();
  void send_window(const WindowResult& r);

  Board& board_;
  ModelRegistry models_;
  uint8_t* arena_;
  size_t arena_size_;
  int16_t* ring_;
  size_t ring_len_;
  Pipeline pipeline_;
  FrameDecoder decoder_;
  AppCounters counters_;
  bool loaded_ = false;
  bool replay_ = false;     // HELLO received
  bool bye_ = false;
  uint32_t next_sample_ = 0;
  // model loaded at run time
  ModelHeader upload_;          // the MODEL_BEGIN being received
  bool uploading_ = false;
  uint32_t upload_next_ = 0;    // bytes received in order so far
  ModelSpec runtime_spec_{};    // valid while runtime_ok_ (flatbuffer in the board's slot)
  char runtime_name_[kModelNameMax + 1] = {};
  bool runtime_ok_ = false;
  // the device's own calibration (C5b): scores of the windows being collected (the result is
  // kept by the board: store_calibration / load_calibration)
  int32_t calib_scores_[kCalibMaxWindows];
  uint8_t rx_[256];
  uint8_t tx_[kMaxEncoded + 1];
};

}  // namespace imuad
