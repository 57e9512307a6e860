// Constants shared by vectors.S and the C drivers of the esp32-qemu board.
#pragma once

// esp32q_fault.kind: which vector caught the fault
#define ESP32Q_FAULT_USER 1    // user exception (EXCCAUSE says which)
#define ESP32Q_FAULT_KERNEL 2  // kernel exception
#define ESP32Q_FAULT_DOUBLE 3  // double exception (e.g. a fault inside a window handler)
#define ESP32Q_FAULT_DEBUG 4   // debug exception: the DBREAK0 stack guard
#define ESP32Q_FAULT_IRQ 5     // an interrupt above level 1 (none is ever enabled)
