/* SPDX-License-Identifier: MIT */
/* Placeholder until the cron module lands; replaced in full. */
int cron_placeholder(void);

int
cron_placeholder(void)
{
    return 0;
}
