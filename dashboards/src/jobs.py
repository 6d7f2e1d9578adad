# deskdb / Jobs: the scheduler's leadership and, per job, runs, failures,
# durations, freshness of the last success, next run and skipped fire times.
from grafana import (JOB_NAME, dashboard, quantile, rate, row, sel, stat,
                     table, target, thresholds, timeseries, value_map,
                     variable_query)

NAME = '%s=~"$job_name"' % JOB_NAME
LEGEND = "{{%s}}" % JOB_NAME


def per_job(metric, *extra, fn="rate", window="$__rate_interval"):
    return "sum by (%s) (%s)" % (JOB_NAME, rate(metric, NAME, *extra, fn=fn,
                                                window=window))


def job(metric):
    return "max by (%s) (%s)" % (JOB_NAME, sel(metric, NAME))


def build():
    last_success = job("deskdb_job_last_success_timestamp_seconds")
    next_run = job("deskdb_job_next_run_timestamp_seconds")
    columns = {JOB_NAME: "Job", "Value #A": "Since last success",
               "Value #B": "Since last run", "Value #C": "Next run in",
               "Value #D": "Running", "Value #E": "Failures in range",
               "Value #F": "Runs in range"}
    panels = [
        row("Scheduler"),
        stat("Leader", "Which instances schedule jobs: the holder of the "
             "advisory lock with leader.mode advisory_lock, every instance "
             "with leader.mode none. Alert DeskdbSchedulerNoLeader fires "
             "when none does for 5 minutes.", "none",
             [target(sel("deskdb_scheduler_leader"), "{{instance}}")],
             mappings=value_map((0, "standby", "blue"),
                                (1, "leader", "green")), w=8),
        stat("Running now", "Job runs in progress on the selected "
             "instances.", "short",
             [target("sum(%s)" % sel("deskdb_job_running", NAME))], w=8),
        stat("Failures in range", "Failed or timed-out runs of the selected "
             "jobs in the selected time range.", "short",
             [target("sum(%s)" % rate("deskdb_job_failures_total", NAME,
                                      fn="increase", window="$__range"),
                     instant=True)],
             color="background", th=thresholds((1, "red")), w=8),
        table("Jobs", "Per job: time since the last successful run and the "
              "last run of any outcome, time until the next fire time "
              "(negative: overdue; empty on instances that do not "
              "schedule), runs in progress, and failures and runs in the "
              "selected range.", "short", [
                  target("time() - (%s > 0)" % last_success, instant=True,
                         fmt="table"),
                  target("time() - (%s > 0)"
                         % job("deskdb_job_last_run_timestamp_seconds"),
                         instant=True, fmt="table"),
                  target("(%s > 0) - time()" % next_run, instant=True,
                         fmt="table"),
                  target("sum by (%s) (%s)" % (JOB_NAME, sel(
                      "deskdb_job_running", NAME)), instant=True,
                      fmt="table"),
                  target(per_job("deskdb_job_failures_total", fn="increase",
                                 window="$__range"), instant=True,
                         fmt="table"),
                  target(per_job("deskdb_job_runs_total", fn="increase",
                                 window="$__range"), instant=True,
                         fmt="table"),
              ], columns,
              {"Since last success": "s", "Since last run": "s",
               "Next run in": "s"}, h=8),
        row("Runs"),
        timeseries("Runs / min", "Runs executed (not skipped), any "
                   "outcome.", "cpm",
                   [target(per_job("deskdb_job_runs_total") + " * 60",
                           LEGEND)]),
        timeseries("Failures / min", "Runs that failed or timed out. Alert "
                   "DeskdbJobFailed fires on any in 15 minutes.", "cpm",
                   [target(per_job("deskdb_job_failures_total") + " * 60",
                           LEGEND)]),
        timeseries("Retries / min", "Attempts of runs after the first "
                   "(job retry policy).", "cpm",
                   [target(per_job("deskdb_job_retries_total") + " * 60",
                           LEGEND)]),
        timeseries("Skipped fire times / min", "Fire times not run, by "
                   "reason: overlap (concurrency policy), misfire, guard "
                   "(only_if was false) or duplicate (another instance ran "
                   "it).", "cpm",
                   [target("sum by (%s, reason) (%s) * 60" % (
                       JOB_NAME, rate("deskdb_job_skipped_total", NAME)),
                       LEGEND + " {{reason}}")]),
        timeseries("Run duration p95", "95th percentile of run durations "
                   "per job. Jobs that run less often than the graph's "
                   "resolution show as points.", "s",
                   [target(quantile(0.95, "deskdb_job_duration_seconds",
                                    (JOB_NAME,), NAME), LEGEND)]),
        timeseries("Running", "Runs in progress per job and instance.",
                   "short",
                   [target(sel("deskdb_job_running", NAME),
                           LEGEND + " {{instance}}")]),
        row("Freshness"),
        timeseries("Time since last success", "Age of each job's latest "
                   "successful run. Alert DeskdbJobStale fires when it "
                   "exceeds two schedule periods.", "s",
                   [target("time() - (%s > 0)" % last_success, LEGEND)],
                   w=12),
        timeseries("Next run in", "Time until each job's next fire time on "
                   "the scheduling instance; below zero the scheduler is "
                   "late (alert DeskdbJobStale).", "s",
                   [target("(%s > 0) - time()" % next_run, LEGEND)],
                   th=thresholds((0, "green"), base="red"), w=12),
    ]
    name = variable_query(
        "job_name", "Job name",
        'label_values(deskdb_job_runs_total{job=~"$job", '
        'instance=~"$instance"}, %s)' % JOB_NAME)
    return dashboard(
        "deskdb-jobs", "deskdb / Jobs",
        "deskdb's scheduled jobs: leadership, runs, failures, durations, "
        "freshness and skipped fire times.", panels, extra_vars=[name])
