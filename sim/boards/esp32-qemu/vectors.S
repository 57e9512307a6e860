// Reset entry and exception vectors for the esp32 core on QEMU's `sim` machine (bare metal,
// windowed ABI). Assembled with -mtext-section-literals (L32R literals in .text, placed by
// .literal_position before their first use: L32R only reaches backwards).
//
// Vector table (VECBASE, 1 KiB, offsets of the esp32 configuration's core-isa.h):
//   0x000-0x17F  window overflow/underflow 4/8/12: the standard handlers the windowed ABI needs
//   0x180-0x27F  level 2-6 interrupts, 0x280 = debug (level 6): only the stack guard (DBREAK0)
//                ever raises one -> fatal "stack overflow"
//   0x2C0 NMI, 0x300 kernel, 0x3C0 double exception -> fatal
//   0x340 user: Level1Interrupt (the CCOMPARE0 timer that ends a WAITI while the board waits
//         for input) is acknowledged and returns; any other cause -> fatal
// Fatal paths record the cause in esp32q_fault and continue in C (esp32q_fault_report) on a
// separate stack with a fresh register window; it prints a line and exits through SIMCALL.
#include "esp32q_defs.h"

#define PS_INTLEVEL(n) (n)
#define PS_EXCM 0x10
#define PS_UM 0x20
#define PS_WOE 0x40000

    .section .vectors.text, "ax"
    .align 4096  // VECBASE alignment
    .global _vector_table
_vector_table:

    .org 0x000
_WindowOverflow4:
    s32e    a0, a5, -16
    s32e    a1, a5, -12
    s32e    a2, a5,  -8
    s32e    a3, a5,  -4
    rfwo

    .org 0x040
_WindowUnderflow4:
    l32e    a0, a5, -16
    l32e    a1, a5, -12
    l32e    a2, a5,  -8
    l32e    a3, a5,  -4
    rfwu

    .org 0x080
_WindowOverflow8:
    s32e    a0, a9, -16
    l32e    a0, a1, -12
    s32e    a2, a9,  -8
    s32e    a1, a9, -12
    s32e    a3, a9,  -4
    s32e    a4, a0, -32
    s32e    a5, a0, -28
    s32e    a6, a0, -24
    s32e    a7, a0, -20
    rfwo

    .org 0x0C0
_WindowUnderflow8:
    l32e    a1, a9, -12
    l32e    a0, a9, -16
    l32e    a7, a1, -12
    l32e    a2, a9,  -8
    l32e    a4, a7, -32
    l32e    a3, a9,  -4
    l32e    a5, a7, -28
    l32e    a6, a7, -24
    l32e    a7, a7, -20
    rfwu

    .org 0x100
_WindowOverflow12:
    s32e    a0,  a13, -16
    l32e    a0,  a1,  -12
    s32e    a1,  a13, -12
    s32e    a2,  a13,  -8
    s32e    a3,  a13,  -4
    s32e    a4,  a0,  -48
    s32e    a5,  a0,  -44
    s32e    a6,  a0,  -40
    s32e    a7,  a0,  -36
    s32e    a8,  a0,  -32
    s32e    a9,  a0,  -28
    s32e    a10, a0,  -24
    s32e    a11, a0,  -20
    rfwo

    .org 0x140
_WindowUnderflow12:
    l32e    a1,  a13, -12
    l32e    a0,  a13, -16
    l32e    a11, a1,  -12
    l32e    a2,  a13,  -8
    l32e    a4,  a11, -48
    l32e    a8,  a11, -32
    l32e    a3,  a13,  -4
    l32e    a5,  a11, -44
    l32e    a6,  a11, -40
    l32e    a7,  a11, -36
    l32e    a9,  a11, -28
    l32e    a10, a11, -24
    l32e    a11, a11, -20
    rfwu

    .org 0x180  // level 2 interrupt
    wsr.excsave2 a0
    movi    a0, ESP32Q_FAULT_IRQ
    j       _fatal_common

    .org 0x1C0  // level 3
    wsr.excsave3 a0
    movi    a0, ESP32Q_FAULT_IRQ
    j       _fatal_common

    .org 0x200  // level 4
    wsr.excsave4 a0
    movi    a0, ESP32Q_FAULT_IRQ
    j       _fatal_common

    .org 0x240  // level 5
    wsr.excsave5 a0
    movi    a0, ESP32Q_FAULT_IRQ
    j       _fatal_common

    .org 0x280  // debug exception (level 6): DBREAK0 = thread stack guard
    wsr.excsave6 a0
    movi    a0, ESP32Q_FAULT_DEBUG
    j       _fatal_common

    .org 0x2C0  // NMI (level 7)
    wsr.excsave7 a0
    movi    a0, ESP32Q_FAULT_IRQ
    j       _fatal_common

    .org 0x300  // kernel exception (PS.UM = 0)
    wsr.excsave1 a0
    movi    a0, ESP32Q_FAULT_KERNEL
    j       _fatal_common

    .org 0x340  // user exception
    wsr.excsave1 a0
    rsr.exccause a0
    beqi    a0, 4, _level1_irq  // EXCCAUSE_LEVEL1_INTERRUPT
    movi    a0, ESP32Q_FAULT_USER
    j       _fatal_common

    .org 0x3C0  // double exception
    wsr.excsave1 a0
    movi    a0, ESP32Q_FAULT_DOUBLE
    j       _fatal_common

    .org 0x400
// The only interrupt ever enabled is CCOMPARE0 (level 1), and only inside esp32q_wait(): it
// ends a WAITI. Disable it again, clear it (a CCOMPARE0 write) and return; a0 is the only
// register used.
_level1_irq:
    movi    a0, 0
    wsr.intenable a0
    wsr.ccompare0 a0
    rsr.excsave1 a0
    rsync
    rfe

    .literal_position
_fatal_common:
    // a0 = fault kind; a1 = the interrupted stack pointer; everything else is the
    // interrupted code's and is not needed again (we never return).
    movi    a2, esp32q_fault
    s32i    a0, a2, 0
    s32i    a1, a2, 4
    rsr.exccause a3
    s32i    a3, a2, 8
    rsr.epc1 a3
    s32i    a3, a2, 12
    rsr.excvaddr a3
    s32i    a3, a2, 16
    rsr.debugcause a3
    s32i    a3, a2, 20
    rsr.epc6 a3
    s32i    a3, a2, 24
    rsr.depc a3
    s32i    a3, a2, 28
    movi    a3, 0
    wsr.dbreakc0 a3  // the guard would fire again on the report's own stores
    wsr.intenable a3
    // Fresh window state: only the current window is live, so no older (possibly broken)
    // frame is ever spilled; then a clean windowed context on the fault stack.
    rsr.windowbase a3
    ssl     a3
    movi    a4, 1
    sll     a4, a4
    wsr.windowstart a4
    rsync
    movi    a1, __fault_stack_top
    movi    a3, PS_WOE | PS_UM | PS_INTLEVEL(15)
    wsr.ps  a3
    rsync
    mov     a6, a2
    movi    a8, esp32q_fault_report
    callx4  a8
1:  j       1b

// ---------------------------------------------------------------- reset
// The core resets at 0x40000400 (the ESP32's ROM; build-qemu-esp32.sh makes QEMU's static
// vector 0 that address too) with PS = EXCM | INTLEVEL 15, WINDOWBASE 0, WINDOWSTART 1 and
// VECBASE = 0x40000000. The literal sits in the word before the vector (L32R reaches back).
    .section .reset_vector, "ax"
    .align 4
_reset_literal:
    .word   _start
    .global _ResetVector
_ResetVector:
    l32r    a0, _reset_literal
    jx      a0

    .section .iram.text, "ax"
    .literal_position
    .global _start
    .align 4
_start:
    movi    a0, 0
    wsr.intenable a0
    movi    a2, _vector_table
    wsr.vecbase a2
    movi    a2, 1
    wsr.windowstart a2
    wsr.windowbase a0
    rsync
    movi    a1, __stack_top
    movi    a2, PS_WOE | PS_UM | PS_INTLEVEL(0)
    wsr.ps  a2
    rsync
    movi    a2, 1  // CP0 = FPU on (the ESP-IDF port enables it lazily per task)
    wsr.cpenable a2
    rsync
    movi    a8, esp32q_reset_c
    callx4  a8  // windowed C from here on (noreturn)
1:  j       1b
