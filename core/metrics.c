/* SPDX-License-Identifier: MIT */
/* Placeholder until the metrics registry lands; replaced in full. */
#include "core/metrics.h"
