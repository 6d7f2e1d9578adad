/* SPDX-License-Identifier: MIT */
/* Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms). */
#include "jobs/civil.h"

/* Days from 0000-03-01 to 1970-01-01: the algorithms count eras of 400
 * years starting in March so that the leap day is the last day of a year. */
#define DAYS_0000_03_01_TO_EPOCH INT64_C(719468)
#define DAYS_PER_ERA             INT64_C(146097)

int64_t
civil_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b) != 0 && a < 0)
        q--;
    return q;
}

bool
civil_is_leap_year(int64_t year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int
civil_days_in_month(int64_t year, int month)
{
    static const int days[12] =
        {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && civil_is_leap_year(year))
        return 29;
    return days[month - 1];
}

int64_t
civil_days_from_date(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = civil_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = month > 2 ? month - 3 : month + 9;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * DAYS_PER_ERA + doe - DAYS_0000_03_01_TO_EPOCH;
}

void
civil_date_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + DAYS_0000_03_01_TO_EPOCH;
    int64_t era = civil_floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);

    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = m;
    *year = yoe + era * 400 + (m <= 2);
}

int
civil_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (4). */
    int64_t w = (days + 4) % 7;

    return (int)(w < 0 ? w + 7 : w);
}

bool
civil_is_valid(const struct civil_time *c)
{
    if (c->year < CIVIL_YEAR_MIN || c->year > CIVIL_YEAR_MAX)
        return false;
    if (c->month < 1 || c->month > 12)
        return false;
    if (c->day < 1 || c->day > civil_days_in_month(c->year, c->month))
        return false;
    return c->hour >= 0 && c->hour <= 23 && c->minute >= 0 && c->minute <= 59 &&
           c->second >= 0 && c->second <= 59;
}

int64_t
civil_to_seconds(const struct civil_time *c)
{
    int64_t days = civil_days_from_date(c->year, c->month, c->day);

    return days * CIVIL_SECS_PER_DAY + c->hour * 3600 + c->minute * 60 +
           c->second;
}

void
civil_from_seconds(int64_t seconds, struct civil_time *c)
{
    /* Not seconds - days * 86400: that overflows near INT64_MIN. */
    int64_t days = seconds / CIVIL_SECS_PER_DAY;
    int64_t sod = seconds % CIVIL_SECS_PER_DAY;

    if (sod < 0) {
        sod += CIVIL_SECS_PER_DAY;
        days--;
    }

    civil_date_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(sod / 3600);
    c->minute = (int)(sod % 3600 / 60);
    c->second = (int)(sod % 60);
}
