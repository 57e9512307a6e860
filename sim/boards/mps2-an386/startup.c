// Reset and fault handling for the QEMU mps2-an386 board (Cortex-M4F).
//
// Reset: enable the FPU, copy .data, zero .bss, paint the thread stack, then run main() on
// the process stack (PSP) at the bottom of RAM. Exceptions run on a separate main stack
// (MSP), so a thread-stack overflow (which runs into unmapped memory below RAM) is caught
// by the fault handler and reported instead of locking the core up. newlib's system calls:
// sim/boards/common/bare_runtime.c.
#include <stddef.h>
#include <stdint.h>

#include "mps2.h"

extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __handler_stack_top[];

extern void __libc_init_array(void);
extern int main(void);

#define REG32(addr) (*(volatile uint32_t*)(addr))
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_BFAR REG32(0xE000ED38u)
#define SCB_MMFAR REG32(0xE000ED34u)

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

__attribute__((noreturn, used)) static void thread_main(void) {
  __libc_init_array();
  int rc = main();
  bare_exit(rc == 0 ? BARE_EXIT_MAIN_RETURNED : rc);
}

void Reset_Handler(void) {
  SCB_CPACR |= (0xFu << 20);  // CP10 + CP11 full access: FPU on before any float code
  __asm__ volatile("dsb\n isb" ::: "memory");

  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (uint32_t* p = __stack_bottom; p < __stack_top;) *p++ = BARE_STACK_PAINT;

  // Switch thread mode to PSP (CONTROL.SPSEL) and continue on the painted stack.
  __asm__ volatile(
      "msr psp, %0\n"
      "movs r0, #2\n"
      "msr control, r0\n"
      "isb\n"
      "b thread_main\n" ::"r"(__stack_top)
      : "r0", "memory");
  __builtin_unreachable();
}

static void fault_report(const char* what) {
  uint32_t psp;
  __asm__ volatile("mrs %0, psp" : "=r"(psp));
  uint32_t cfsr = SCB_CFSR;
  // STKERR/MSTKERR (stacking failed) or a PSP at/below the stack bottom: thread stack overflow.
  int overflow = (cfsr & ((1u << 12) | (1u << 4))) || psp <= (uint32_t)(uintptr_t)__stack_bottom + 32u;
  static const char hex[] = "0123456789abcdef";
  char line[128];
  size_t n = 0;
  const char* head = overflow ? "imuad-qemu: FATAL stack overflow (" : "imuad-qemu: FATAL ";
  for (const char* s = head; *s && n < 60; ++s) line[n++] = *s;
  for (const char* s = what; *s && n < 80; ++s) line[n++] = *s;
  const char* mid = overflow ? ") cfsr=0x" : " cfsr=0x";
  for (const char* s = mid; *s; ++s) line[n++] = *s;
  for (int i = 7; i >= 0; --i) line[n++] = hex[(cfsr >> (4 * i)) & 0xF];
  const char* tail = " psp=0x";
  for (const char* s = tail; *s; ++s) line[n++] = *s;
  for (int i = 7; i >= 0; --i) line[n++] = hex[(psp >> (4 * i)) & 0xF];
  line[n++] = '\n';
  line[n] = 0;
  bare_log_write(line);
  bare_exit(overflow ? BARE_EXIT_STACK_OVERFLOW : BARE_EXIT_FAULT);
}

void HardFault_Handler(void) { fault_report("HardFault"); }
void Default_Handler(void) { fault_report("unexpected exception"); }

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) const vector_t g_vectors[16 + 32] = {
    (vector_t)__handler_stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    // 32 external IRQs (UART etc. are polled; any interrupt reaching here is a bug)
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler,
};
