/* SPDX-License-Identifier: MIT */
/* cxx_layout.c — the C compiler's view of weft's struct layouts, for
 * test_cxx.cpp to compare with the C++ compiler's. */
#include "cxx_layout.h"

const weft_layout_entry weft_layout_c[] = WEFT_LAYOUT_TABLE_;
const size_t weft_layout_c_count = sizeof weft_layout_c / sizeof weft_layout_c[0];
