/* SPDX-License-Identifier: MIT */
/* Placeholder until the exposition writer lands; replaced in full. */
#include "core/metrics.h"

int expo_placeholder(void);

int
expo_placeholder(void)
{
    return 0;
}
