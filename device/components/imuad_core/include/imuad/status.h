#pragma once

namespace imuad {

// Result of an init step: ok, or an error code (protocol ErrorCode numbering) and a static message.
struct Status {
  int code = 0;  // 0 ok, else imuad::ErrorCode
  const char* message = "ok";
  bool ok() const { return code == 0; }
};

}  // namespace imuad
